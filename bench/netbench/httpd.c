/* A keep-alive HTTP/1.1 responder for bench/network: one process per connection, the same
 * 512-byte answer to every request. Keep-alive keeps the client's ephemeral ports out of
 * TIME_WAIT, so a bounded wrk run measures the network path, not port exhaustion. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void serve(int c) {
    static char answer[1024];
    char body[512];
    memset(body, 'x', sizeof body);
    int head = snprintf(answer, sizeof answer,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n", sizeof body);
    memcpy(answer + head, body, sizeof body);
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(c, buf + have, sizeof buf - have - 1);
        if (n <= 0) return;
        have += n;
        buf[have] = 0;
        char *end;
        while ((end = strstr(buf, "\r\n\r\n")) != NULL) {   /* one answer per complete request head */
            if (write(c, answer, head + sizeof body) < 0) return;
            size_t used = end + 4 - buf;
            memmove(buf, buf + used, have - used + 1);
            have -= used;
        }
        if (have == sizeof buf - 1) return;
    }
}

int main(int argc, char **argv) {
    signal(SIGCHLD, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(argc > 1 ? atoi(argv[1]) : 8080)};
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 128)) return 1;
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        if (fork() == 0) { close(s); serve(c); _exit(0); }
        close(c);
    }
}
