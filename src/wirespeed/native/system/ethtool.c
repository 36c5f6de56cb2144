/* system/ethtool.c - see ethtool.h for the contract. */
#include "system/ethtool.h"

#include <errno.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int ws_ifreq_ioctl(const char *ifname, unsigned long request, void *data)
{
	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_data = data;
	int rc = ioctl(fd, request, &ifr) ? -errno : 0;
	close(fd);
	return rc;
}

int ws_ethtool(const char *ifname, void *buf)
{
	return ws_ifreq_ioctl(ifname, SIOCETHTOOL, buf);
}

int ws_hwtstamp(const char *ifname, int set, void *cfg)
{
	return ws_ifreq_ioctl(ifname, set ? SIOCSHWTSTAMP : SIOCGHWTSTAMP, cfg);
}
