/*
 * The hook tool client: every hook tool name is a link to it, as every Juju hook tool is a link
 * to jujud (cmd/jujud/main.go runs the command named by argv[0] over the agent's socket).
 *
 * In the operator (hooks, juju-run) it talks to the controller over its unix socket
 * (JUJU_AGENT_SOCKET_NETWORK=unix, JUJU_AGENT_SOCKET_ADDRESS a path). In a workload container
 * (actions) Juju's jujud talks to the operator's jujuc server over TCP
 * (JUJU_AGENT_SOCKET_NETWORK=tcp, JUJU_AGENT_SOCKET_ADDRESS, JUJU_AGENT_TOKEN); a workload
 * image need not have python3, and jujud is a static Go binary, so this client is static C.
 *
 * Request: one JSON line {"tool","args","context","token","stdin","files"}, over unix also
 *          "op":"tool", "unit", "cwd" and "framed":true.
 * Answer:  "<rc> <stdout length> <stderr length>\n" then the two byte strings.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char *buf;
static size_t len, cap;

static void put(const char *s, size_t n) {
    if (len + n + 1 > cap) {
        cap = (len + n + 1) * 2;
        buf = realloc(buf, cap);
        if (!buf) { fputs("ERROR out of memory\n", stderr); exit(1); }
    }
    memcpy(buf + len, s, n);
    len += n;
}

static void puts_(const char *s) { put(s, strlen(s)); }

static void json_str(const char *s, size_t n) {
    char esc[8];
    put("\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = c; put(esc, 2); }
        else if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); put(esc, 6); }
        else put((const char *)&s[i], 1);
    }
    put("\"", 1);
}

static char *slurp(FILE *f, size_t *n) {
    size_t c = 4096, l = 0, r;
    char *d = malloc(c);
    while (d && (r = fread(d + l, 1, c - l, f)) > 0) {
        l += r;
        if (l == c) { c *= 2; d = realloc(d, c); }
    }
    *n = l;
    return d;
}

static const char *base(const char *p) { const char *s = strrchr(p, '/'); return s ? s + 1 : p; }

int main(int argc, char **argv) {
    const char *tool = base(argv[0]);
    const char *addr = getenv("JUJU_AGENT_SOCKET_ADDRESS");
    const char *network = getenv("JUJU_AGENT_SOCKET_NETWORK");
    const char *ctx = getenv("JUJU_CONTEXT_ID");
    const char *token = getenv("JUJU_AGENT_TOKEN");
    int wants_stdin = !strcmp(tool, "pod-spec-set") || !strcmp(tool, "k8s-spec-set") ||
                      !strcmp(tool, "k8s-raw-set");
    int unix_socket = network && !strcmp(network, "unix");
    if (!addr || !*addr || (!unix_socket && !strchr(addr, ':'))) {
        fputs("ERROR JUJU_AGENT_SOCKET not set: not in a hook context\n", stderr);
        return 1;
    }
    puts_("{\"tool\":"); json_str(tool, strlen(tool));
    if (unix_socket) {
        const char *unit = getenv("JUJU_UNIT_NAME");
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
        puts_(",\"op\":\"tool\",\"framed\":true,\"unit\":");
        json_str(unit ? unit : "", unit ? strlen(unit) : 0);
        puts_(",\"cwd\":"); json_str(cwd, strlen(cwd));
    }
    puts_(",\"context\":"); json_str(ctx ? ctx : "", ctx ? strlen(ctx) : 0);
    puts_(",\"token\":"); json_str(token ? token : "", token ? strlen(token) : 0);
    puts_(",\"args\":[");
    for (int i = 1; i < argc; i++) {
        if (i > 1) put(",", 1);
        json_str(argv[i], strlen(argv[i]));
    }
    puts_("],\"files\":{");
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (!strcmp(argv[i], "--file") || !strcmp(argv[i], "--k8s-resources"))
            path = i + 1 < argc ? argv[i + 1] : NULL;
        else if (!strncmp(argv[i], "--file=", 7)) path = argv[i] + 7;
        else if (!strncmp(argv[i], "--k8s-resources=", 16)) path = argv[i] + 16;
        if (!path) continue;
        if (!strcmp(argv[i], "--file") || !strncmp(argv[i], "--file=", 7)) wants_stdin = 0;
        if (!strcmp(path, "-")) { wants_stdin = 1; continue; }
        FILE *f = fopen(path, "rb");
        if (!f) { fprintf(stderr, "ERROR open %s: no such file or directory\n", path); return 1; }
        size_t n;
        char *d = slurp(f, &n);
        fclose(f);
        if (nfiles++) put(",", 1);
        json_str(path, strlen(path)); put(":", 1); json_str(d, n);
        free(d);
    }
    puts_("},\"stdin\":");
    if (wants_stdin) { size_t n; char *d = slurp(stdin, &n); json_str(d, n); free(d); }
    else puts_("null");
    puts_("}\n");

    int s;
    if (unix_socket) {
        struct sockaddr_un su = {0};
        su.sun_family = AF_UNIX;
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0 || strlen(addr) >= sizeof su.sun_path) {
            fprintf(stderr, "ERROR cannot reach the agent: %s\n", addr);
            return 1;
        }
        strcpy(su.sun_path, addr);
        if (connect(s, (struct sockaddr *)&su, sizeof su) < 0) {
            fprintf(stderr, "ERROR cannot reach the agent: %s\n", addr);
            return 1;
        }
    } else {
        char host[256];
        const char *colon = strrchr(addr, ':');
        size_t hl = (size_t)(colon - addr) < sizeof host - 1 ? (size_t)(colon - addr)
                                                              : sizeof host - 1;
        memcpy(host, addr, hl);
        host[hl] = 0;
        struct sockaddr_in sa = {0};
        sa.sin_family = AF_INET;
        sa.sin_port = htons((unsigned short)atoi(colon + 1));
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
            connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
            fprintf(stderr, "ERROR cannot reach the agent at %s\n", addr);
            return 1;
        }
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(s, buf + off, len - off);
        if (w <= 0) { fputs("ERROR connection to the agent lost\n", stderr); return 1; }
        off += (size_t)w;
    }
    shutdown(s, SHUT_WR);
    FILE *in = fdopen(s, "rb");
    size_t n;
    char *answer = slurp(in, &n);
    int rc; size_t ol, el, used = 0;
    /* The header ends at its first newline; stdout may begin with whitespace (an empty value
     * prints "\n"), which a scanf whitespace directive would swallow as part of the header. */
    char *nl = answer ? memchr(answer, '\n', n) : NULL;
    if (nl) used = (size_t)(nl - answer) + 1;
    if (!nl || sscanf(answer, "%d %zu %zu", &rc, &ol, &el) != 3 || used + ol + el > n) {
        fputs("ERROR connection to the agent lost\n", stderr);
        return 1;
    }
    fwrite(answer + used, 1, ol, stdout);
    fwrite(answer + used + ol, 1, el, stderr);
    return rc;
}
