#define FAKE_NAME "twoprimary"
#define FAKE_PRIMARIES 2
#include "fake.h"
