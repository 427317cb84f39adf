// sb-bench-realtime-floor: the baseline of scripts/bench-realtime. Not part of the server.
//
//   realtime-floor PORT
//
// The least a WebSocket fan-out can do on this machine: a C server, speaking just enough of HTTP and
// WebSocket for Benchmarks/realtime-client.c, that writes each posted message to every connected
// subscriber with one write(2) per subscriber, as the server does. Upgrades answer 101 and a "ready"
// frame; a POST's body goes out as a message frame of the size the server's is (434 bytes of JSON)
// from two writer threads, one per core as the server's two event loops, each owning half the
// subscribers, and the POST is answered 201 at once. No store, no JSON, no authentication, no queue:
// the server's CPU per delivery over this one's is what Switchboard adds to the kernel's work.
// It runs until killed. It trusts its client completely: it is for the benchmark only.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { WRITERS = 2, MAX_SUBSCRIBERS = 65536, RING = 4096, FRAME = 512, REQUEST = 8192 };

struct frame {
    size_t length;
    unsigned char bytes[FRAME];
};

static struct frame ring[RING];
static long long published;
static long long sent_by[WRITERS];
static int subscribers[WRITERS][MAX_SUBSCRIBERS / WRITERS];
static int subscriber_count[WRITERS];
static int next_writer;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t room = PTHREAD_COND_INITIALIZER;

static void fail(const char *what) {
    fprintf(stderr, "realtime-floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

// Returns 0 when the peer went away.
static int write_all(int fd, const void *bytes, size_t length) {
    const unsigned char *p = bytes;
    while (length > 0) {
        ssize_t n = write(fd, p, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        p += n;
        length -= (size_t)n;
    }
    return 1;
}

// An unmasked text frame of `payload`.
static void make_frame(struct frame *frame, const char *payload, size_t length) {
    size_t header = length < 126 ? 2 : 4;
    frame->bytes[0] = 0x81;
    if (header == 2) {
        frame->bytes[1] = (unsigned char)length;
    } else {
        frame->bytes[1] = 126;
        frame->bytes[2] = (unsigned char)(length >> 8);
        frame->bytes[3] = (unsigned char)length;
    }
    memcpy(frame->bytes + header, payload, length);
    frame->length = header + length;
}

// Each writer sends every frame published since its last one to its own subscribers.
static void *writer(void *argument) {
    int index = (int)(long)argument;
    long long sent = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (published == sent) pthread_cond_wait(&wake, &lock);
        long long last = published;
        int count = subscriber_count[index];
        pthread_mutex_unlock(&lock);
        int gone = 0;
        for (; sent < last; sent++) {
            const struct frame *frame = &ring[sent % RING];
            for (int i = 0; i < count; i++) {
                int fd = subscribers[index][i];
                if (fd >= 0 && !write_all(fd, frame->bytes, frame->length)) {
                    close(fd);
                    subscribers[index][i] = -1;
                    gone = 1;
                }
            }
        }
        pthread_mutex_lock(&lock);
        sent_by[index] = sent;
        pthread_cond_signal(&room);
        // Subscribers of an earlier run are dropped at their first failed write (the warm-up's).
        if (gone) {
            int kept = 0;
            for (int i = 0; i < subscriber_count[index]; i++) {
                if (subscribers[index][i] >= 0) subscribers[index][kept++] = subscribers[index][i];
            }
            subscriber_count[index] = kept;
        }
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

// The message frame for `content`, laid out as the server's and padded to its size; waits while the
// ring is full (a writer RING frames behind), so that no frame is overwritten before it went out.
static void publish(const char *content, size_t length) {
    static const char id[] = "01a22ba1-daef-70d5-9a1f-5101f4de4720";
    char payload[FRAME];
    int size = snprintf(payload, sizeof payload,
                        "{\"action\":\"receive\",\"seq\":%lld,\"data\":{\"client_message_id\":null,\"conversation_id\":\"%s\","
                        "\"content_type\":\"text/plain\",\"to\":\"%s\",\"timestamp\":1796028357,\"content\":\"%.*s\",\"message_id\":\"%s\","
                        "\"from\":\"%s\"},\"type\":\"message\",\"timestamp\":1796028357,\"event_id\":\"%s\"",
                        published + 1, id, id, (int)length, content, id, id, id);
    while (size < 433) payload[size++] = ' ';
    payload[size++] = '}';
    pthread_mutex_lock(&lock);
    for (;;) {
        long long slowest = published;
        for (int i = 0; i < WRITERS; i++) slowest = sent_by[i] < slowest ? sent_by[i] : slowest;
        if (published - slowest < RING) break;
        pthread_cond_wait(&room, &lock);
    }
    make_frame(&ring[published % RING], payload, (size_t)size);
    published++;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
}

struct client {
    int fd;
    size_t used;
    char buffer[REQUEST];
};

// Handles the complete requests in the client's buffer; returns 0 once the connection became a subscriber.
static int serve(struct client *c, int poll) {
    for (;;) {
        char *end = memmem(c->buffer, c->used, "\r\n\r\n", 4);
        if (!end) return 1;
        size_t headers = (size_t)(end + 4 - c->buffer);
        if (strncmp(c->buffer, "GET /ws", 7) == 0) {
            static const char upgrade[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
            static const char ready[] = "{\"data\":{\"seq\":0},\"type\":\"ready\"}";
            struct frame frame;
            make_frame(&frame, ready, sizeof ready - 1);
            write_all(c->fd, upgrade, sizeof upgrade - 1);
            write_all(c->fd, frame.bytes, frame.length);
            epoll_ctl(poll, EPOLL_CTL_DEL, c->fd, NULL);
            pthread_mutex_lock(&lock);
            int index = next_writer++ % WRITERS;
            if (subscriber_count[index] < MAX_SUBSCRIBERS / WRITERS) subscribers[index][subscriber_count[index]++] = c->fd;
            pthread_mutex_unlock(&lock);
            return 0;
        }
        *end = 0;
        char *field = strcasestr(c->buffer, "\r\ncontent-length:");
        size_t body = field ? (size_t)atol(field + 17) : 0;
        *end = '\r';
        if (c->used < headers + body) return 1;
        char *content = memmem(c->buffer + headers, body, "\"content\":\"", 11);
        if (content) {
            content += 11;
            char *close = memchr(content, '"', (size_t)(c->buffer + headers + body - content));
            publish(content, close ? (size_t)(close - content) : 0);
        }
        static const char created[] = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
        write_all(c->fd, created, sizeof created - 1);
        memmove(c->buffer, c->buffer + headers + body, c->used - headers - body);
        c->used -= headers + body;
    }
}

int main(int argc, char **argv) {
    int port = argc == 2 ? atoi(argv[1]) : 0;
    if (port <= 0) {
        fprintf(stderr, "usage: realtime-floor PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    if (listener < 0) fail("socket");
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0) fail("bind");
    if (listen(listener, 1024) != 0) fail("listen");
    for (long i = 0; i < WRITERS; i++) {
        pthread_t thread;
        pthread_create(&thread, NULL, writer, (void *)i);
    }
    int poll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(poll, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event events[64];
    for (;;) {
        int ready = epoll_wait(poll, events, 64, -1);
        for (int i = 0; i < ready; i++) {
            struct client *c = events[i].data.ptr;
            if (!c) {
                int fd = accept(listener, NULL, NULL);
                if (fd < 0) continue;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                c = calloc(1, sizeof *c);
                c->fd = fd;
                struct epoll_event added = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(poll, EPOLL_CTL_ADD, fd, &added);
                continue;
            }
            ssize_t n = read(c->fd, c->buffer + c->used, sizeof c->buffer - c->used);
            if (n <= 0) {
                epoll_ctl(poll, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                free(c);
                continue;
            }
            c->used += (size_t)n;
            if (serve(c, poll) == 0) free(c);
        }
    }
}
