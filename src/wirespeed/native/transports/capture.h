/* transports/capture.h - what a captured packet looks like in the ring.
 *
 * Every record is one Ethernet frame as it was (AF_XDP) or as the kernel
 * received it (the kernel transport rebuilds Ethernet/IPv4/UDP headers in
 * front of the datagram: frame.h). stream is the capture's stream id (a feed
 * line; the ring's description maps ids to names, groups, ports). ts_ns is
 * CLOCK_REALTIME: where it was taken is in the flags. Consumers find the UDP
 * payload behind 14 + IHL*4 + 8 bytes (always 42 for rebuilt headers).
 */
#ifndef WS_CAPTURE_H
#define WS_CAPTURE_H

/* record flags */
#define WS_REC_REBUILT 0x0001u    /* headers rebuilt from socket metadata (MACs unknown: zeros) */
#define WS_REC_TS_KERNEL 0x0002u  /* ts_ns is the kernel's receive stamp (SO_TIMESTAMPNS) */
#define WS_REC_TS_USER 0x0004u    /* ts_ns was taken by the rx engine when it dequeued the batch */
#define WS_REC_MALFORMED 0x0008u  /* kept although its headers failed ws_frame_check (policy "keep") */
#define WS_REC_TS_NIC 0x0010u     /* ts_ns is the NIC's receive stamp: dpdk converts it with the port's clock;
                                   * kernel (SO_TIMESTAMPING) gives the PHC's raw time, which is
                                   * CLOCK_REALTIME only where phc2sys keeps the PHC on it */
#define WS_REC_TRANSPORT_SHIFT 8  /* bits 8..11: the transport */
#define WS_REC_KERNEL (1u << WS_REC_TRANSPORT_SHIFT)
#define WS_REC_AF_XDP (2u << WS_REC_TRANSPORT_SHIFT)
#define WS_REC_PCAP (3u << WS_REC_TRANSPORT_SHIFT)
#define WS_REC_DPDK (4u << WS_REC_TRANSPORT_SHIFT)

#endif /* WS_CAPTURE_H */
