#define FAKE_NAME "good"
#include "fake.h"
