/* frame.h - Ethernet/IPv4/UDP headers, written the way Linux writes them.
 *
 * What it is for: the simulator's raw send mode writes whole frames, and the
 * kernel receive transport rebuilds the frame a datagram arrived in (the
 * kernel hands it only the payload), so every ring record is a frame. The
 * same layout is produced in Python by wirespeed/frames.py: DF set, IP ID 0,
 * IPv4 header without options, UDP checksum computed (0xFFFF for 0).
 *
 * Ownership: caller buffers only. Threads: pure functions.
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <stdint.h>

#define WS_FRAME_HDR 42u /* Ethernet 14 + IPv4 20 + UDP 8 */

/* ws_frame_udp4 writes the 42 header bytes at f for a payload of len bytes
 * already at f + WS_FRAME_HDR. Addresses and ports in network order. A
 * multicast destination gets its 01:00:5e MAC; any other gets dmac (may be
 * NULL: zeros). smac may be NULL (zeros: unknown). */
void ws_frame_udp4(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t src_ip, uint32_t dst_ip,
                   uint16_t sport, uint16_t dport, uint8_t ttl, uint32_t len);

#endif /* WS_FRAME_H */
