/*
 * frame.c - sending and receiving whole frames, descriptors attached.
 *
 * A frame's descriptors ride on its first byte (SCM_RIGHTS), so the first
 * recvmsg of a frame collects them; later reads only complete the bytes.
 * Every received descriptor is close-on-exec from the start
 * (MSG_CMSG_CLOEXEC): a descriptor meant for the program is made
 * inheritable only when it is put in its place.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "os/clock.h"

#define FD_SPACE CMSG_SPACE(sizeof(int) * (RUN_MAX_FDS + 3))

run_status run_send(int sock, run_message type, const void *body,
                    uint32_t length, const int *fds, int n_fds, run_diag *diag)
{
    if (length > RUN_MAX_BODY || n_fds < 0 || n_fds > RUN_MAX_FDS + 3 ||
        (length && !body))
        return run_fail(diag, RUN_E_INVALID, "frame of %u bytes, %d fds",
                        (unsigned)length, n_fds);
    run_frame_header header = {RUN_WIRE_MAGIC, RUN_WIRE_VERSION, (uint16_t)type,
                               length, 0};
    struct iovec iov[2] = {{&header, sizeof header}, {(void *)body, length}};
    union {
        char space[FD_SPACE];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = length ? 2 : 1};
    if (n_fds > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.space;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)n_fds);
    }
    size_t left = sizeof header + length;
    while (left > 0) {
        ssize_t sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                return run_fail(diag, RUN_E_EOF, "peer closed the connection");
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return run_fail(diag, RUN_E_TIMEOUT, "send timed out");
            return run_fail(diag, RUN_E_IO, "send: %s", strerror(errno));
        }
        left -= (size_t)sent;
        /* The descriptors went with the first byte; advance the iovecs. */
        msg.msg_control = NULL;
        msg.msg_controllen = 0;
        while (sent > 0 && msg.msg_iovlen > 0) {
            size_t step = (size_t)sent < msg.msg_iov->iov_len
                              ? (size_t)sent
                              : msg.msg_iov->iov_len;
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + step;
            msg.msg_iov->iov_len -= step;
            sent -= (ssize_t)step;
            if (msg.msg_iov->iov_len == 0) {
                msg.msg_iov++;
                msg.msg_iovlen--;
            }
        }
    }
    return RUN_OK;
}

static int64_t now_ms(void)
{
    return (int64_t)(os_now_ns() / 1000000);
}

/* Wait until sock is readable or the deadline (<0: none) passes. */
static run_status wait_readable(int sock, int64_t deadline, run_diag *diag)
{
    for (;;) {
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return run_fail(diag, RUN_E_TIMEOUT, "no answer in time");
            timeout = left > 1000000 ? 1000000 : (int)left;
        }
        struct pollfd p = {sock, POLLIN, 0};
        int n = poll(&p, 1, timeout);
        if (n > 0)
            return RUN_OK;
        if (n < 0 && errno != EINTR)
            return run_fail(diag, RUN_E_IO, "poll: %s", strerror(errno));
    }
}

static void take_fds(struct msghdr *msg, run_frame *frame)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *received = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < count; i++) {
            if (frame->n_fds < RUN_MAX_FDS + 3)
                frame->fds[frame->n_fds++] = received[i];
            else
                close(received[i]);
        }
    }
}

/* Read exactly size bytes into data; the first read may bring fds. */
static run_status read_exact(int sock, void *data, size_t size,
                             int64_t deadline, run_frame *frame, int first,
                             run_diag *diag)
{
    size_t got = 0;
    while (got < size) {
        run_status status = wait_readable(sock, deadline, diag);
        if (status != RUN_OK)
            return status;
        union {
            char space[FD_SPACE];
            struct cmsghdr align;
        } control;
        struct iovec iov = {(char *)data + got, size - got};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        msg.msg_control = control.space;
        msg.msg_controllen = sizeof control.space;
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            if (errno == ECONNRESET)
                return run_fail(diag, RUN_E_EOF, "connection reset");
            return run_fail(diag, RUN_E_IO, "receive: %s", strerror(errno));
        }
        take_fds(&msg, frame);
        if (msg.msg_flags & MSG_CTRUNC)
            return run_fail(diag, RUN_E_TOO_LARGE, "more than %d descriptors",
                            RUN_MAX_FDS + 3);
        if (n == 0)
            return run_fail(diag,
                            first && got == 0 ? RUN_E_EOF : RUN_E_MALFORMED,
                            first && got == 0 ? "connection closed"
                                              : "connection closed "
                                                "inside a frame");
        got += (size_t)n;
    }
    return RUN_OK;
}

run_status run_recv(int sock, run_frame *frame, int timeout_ms, run_diag *diag)
{
    memset(frame, 0, offsetof(run_frame, fds));
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    run_frame_header header;
    run_status status =
        read_exact(sock, &header, sizeof header, deadline, frame, 1, diag);
    if (status != RUN_OK)
        goto fail;
    if (header.magic != RUN_WIRE_MAGIC || header.version != RUN_WIRE_VERSION) {
        status = run_fail(diag, RUN_E_PROTOCOL,
                          "frame of magic %#x version %u, expected %#x "
                          "version %u",
                          (unsigned)header.magic, (unsigned)header.version,
                          (unsigned)RUN_WIRE_MAGIC, RUN_WIRE_VERSION);
        goto fail;
    }
    if (header.type == 0 || header.type >= RUN_MSG_COUNT) {
        status = run_fail(diag, RUN_E_PROTOCOL, "unknown message type %u",
                          (unsigned)header.type);
        goto fail;
    }
    if (header.length > RUN_MAX_BODY) {
        status = run_fail(diag, RUN_E_TOO_LARGE, "frame body of %u bytes",
                          (unsigned)header.length);
        goto fail;
    }
    frame->type = header.type;
    frame->length = header.length;
    if (header.length) {
        frame->body = malloc((size_t)header.length + 1);
        if (!frame->body) {
            status = run_fail(diag, RUN_E_NOMEM, "frame body of %u bytes",
                              (unsigned)header.length);
            goto fail;
        }
        status = read_exact(sock, frame->body, header.length, deadline, frame,
                            0, diag);
        if (status != RUN_OK)
            goto fail;
        frame->body[header.length] = 0;
    }
    return RUN_OK;
fail:
    run_frame_release(frame);
    return status;
}

void run_frame_release(run_frame *frame)
{
    free(frame->body);
    frame->body = NULL;
    for (int i = 0; i < frame->n_fds; i++)
        if (frame->fds[i] >= 0)
            close(frame->fds[i]);
    frame->n_fds = 0;
}
