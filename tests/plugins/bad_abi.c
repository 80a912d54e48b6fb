#define FAKE_NAME "future"
#define FAKE_ABI 99u
#include "fake.h"
