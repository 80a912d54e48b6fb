#define FAKE_NAME "dup"
#include "fake.h"
