/* A plugin whose dlopen() fails under RTLD_NOW: it calls a function nothing defines. */
#define FAKE_NAME "undefined"
extern int lethe_test_no_such_function(void);
int lethe_test_use(void);
int lethe_test_use(void)
{
	return lethe_test_no_such_function();
}
#include "fake.h"
