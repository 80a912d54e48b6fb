#define FAKE_NAME "small"
#define FAKE_SIZE 16u
#include "fake.h"
