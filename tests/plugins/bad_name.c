#define FAKE_NAME "Bad Name"
#include "fake.h"
