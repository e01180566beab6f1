// Package syslog is Vigil's syslog listener: it receives syslog messages
// over UDP, TCP and TLS and hands them on raw, framed but not parsed (the
// "syslog" format parser turns them into events).
//
// Data enters as datagrams (UDP: one message each) or as a TCP/TLS byte
// stream framed by octet counting ("LEN SP MSG", RFC 6587 3.4.1) or by a
// trailing newline (RFC 6587 3.4.2), told apart per message. It leaves as
// input.Record batches whose Source is "syslog:<proto>:<peer ip:port>" and
// the message's byte offset in its connection (UDP: in the listener's
// datagram stream), with Peer set to the sender's address.
//
// Backpressure: every listener feeds one bounded queue. A TCP or TLS
// connection stops being read while the queue is full, so the sender's
// socket buffers fill and it slows down; nothing is dropped. UDP cannot be
// pushed back: a datagram arriving while the queue is full is dropped and
// counted in Stats().Dropped.
package syslog
