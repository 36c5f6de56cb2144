/* system/netns.c - see netns.h for the contract. */
#include "system/netns.h"

#include <errno.h>
#include <sched.h>

int ws_setns(int fd, int nstype)
{
	return setns(fd, nstype) ? -errno : 0;
}
