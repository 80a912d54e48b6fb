/* A shared object that is not a lethe plugin: it exports no lethe_plugin_entry. */
#include <lethe/common.h>
LETHE_EXPORT int not_a_plugin(void);
LETHE_EXPORT int not_a_plugin(void)
{
	return 42;
}
