#define FAKE_NAME "noscore"
#define FAKE_SCORE NULL
#include "fake.h"
