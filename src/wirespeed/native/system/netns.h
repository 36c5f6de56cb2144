/* system/netns.h - moving the calling thread between network namespaces.
 *
 * What it is for: a socket belongs to the namespace in which it was created,
 * so a thread can step into the test host's namespace, open the sockets it
 * needs (a simulator's sender, a test's receiver) and step back; the sockets
 * keep working from anywhere. Python 3.11 has no os.setns.
 *
 * Threads: setns(CLONE_NEWNET) changes only the calling thread. The caller
 * must step back before it lets other Python code run on that thread
 * (wirespeed/system/netns.py does this in a context manager).
 */
#ifndef WS_NETNS_H
#define WS_NETNS_H

/* ws_setns moves the calling thread into the namespace fd refers to
 * (nstype: CLONE_NEWNET, or 0 for "whatever fd is"). Returns 0 or -errno. */
int ws_setns(int fd, int nstype);

#endif /* WS_NETNS_H */
