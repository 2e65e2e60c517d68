/* LD_PRELOAD shim for the reliability tests (tests/cli/reliability_test.sh): simulates a full
 * disk and an unwritable folder for files under a path prefix, leaving every other file (stdout,
 * stderr, inputs) alone. We run as root, so chmod cannot make a folder unwritable.
 *
 *   FLOTILLA_TEST_ENOSPC_PREFIX=P  files opened for writing whose path starts with P (a plain
 *                                  string prefix: "run/checkpoint.pt" also covers
 *                                  "run/checkpoint.pt.tmp-123") share a budget of
 *   FLOTILLA_TEST_ENOSPC_AFTER=N   bytes (default 0). The write that crosses it is short, every
 *                                  later write, fsync, fallocate, fflush and fclose of such a
 *                                  file fails with ENOSPC.
 *   FLOTILLA_TEST_DENY_PREFIX=P    creating, opening for writing, mkdir, rename, unlink, link
 *                                  and truncate of paths starting with P fail with
 *   FLOTILLA_TEST_DENY_ERRNO=E     EACCES (default) or EROFS. Reading stays possible.
 *   FLOTILLA_TEST_STOP_PREFIX=P    the process stops itself (SIGSTOP) just before the write that
 *   FLOTILLA_TEST_STOP_AFTER=N     takes the bytes written to files under P beyond N (once), so
 *                                  that a test can SIGKILL it at a known point mid-write.
 *
 * Relative paths are resolved against the working folder (openat: against its folder).
 * glibc's stdio writes through internal calls that LD_PRELOAD cannot see, so FILE streams
 * opened under the prefix are metered in fwrite/fputs/fputc/putc/fprintf instead (the bytes a
 * program hands to the stream); C++ streams (libstdc++) and zlib write through write(2).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 65536
#define MAX_STREAMS 256
#define IO_ERR_SEEN 0x20 /* glibc's _IO_ERR_SEEN: what ferror() reports */

#define METER_FULL 1 /* fd/stream bits: counts against the ENOSPC budget */
#define METER_STOP 2 /* counts towards the SIGSTOP point */

static const char* g_full_prefix;  /* NULL: no ENOSPC simulation */
static const char* g_stop_prefix;  /* NULL: never stop */
static unsigned long long g_stop_after;
static unsigned long long g_stop_used; /* atomic */
static int g_stopped;                  /* atomic */
static unsigned long long g_budget;
static unsigned long long g_used;  /* atomic */
static int g_full;                 /* atomic: the budget ran out */
static const char* g_deny_prefix;  /* NULL: nothing denied */
static int g_deny_errno = EACCES;
static unsigned char g_tracked[MAX_FD];  /* fd -> METER_* bits */
static FILE* g_streams[MAX_STREAMS];     /* metered FILE streams */
static int g_stream_bits[MAX_STREAMS];
static pthread_mutex_t g_streams_mu = PTHREAD_MUTEX_INITIALIZER;

__attribute__((constructor)) static void init(void) {
  const char* p = getenv("FLOTILLA_TEST_ENOSPC_PREFIX");
  if (p && *p) g_full_prefix = p;
  const char* n = getenv("FLOTILLA_TEST_ENOSPC_AFTER");
  if (n && *n) g_budget = strtoull(n, NULL, 10);
  const char* d = getenv("FLOTILLA_TEST_DENY_PREFIX");
  if (d && *d) g_deny_prefix = d;
  const char* e = getenv("FLOTILLA_TEST_DENY_ERRNO");
  if (e && strcmp(e, "EROFS") == 0) g_deny_errno = EROFS;
  const char* s = getenv("FLOTILLA_TEST_STOP_PREFIX");
  if (s && *s) g_stop_prefix = s;
  const char* sa = getenv("FLOTILLA_TEST_STOP_AFTER");
  if (sa && *sa) g_stop_after = strtoull(sa, NULL, 10);
}

#define REAL(name, ret, ...)                                        \
  static ret (*real_##name)(__VA_ARGS__);                           \
  if (!real_##name) real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

/* ---- paths ------------------------------------------------------------------------------- */
/* Absolute, with "//" and "/./" collapsed (lexically; ".." and symlinks are left alone). */
static void absolute(int dirfd, const char* path, char* out, size_t cap) {
  char base[PATH_MAX] = "";
  if (path[0] != '/') {
    if (dirfd == AT_FDCWD || dirfd < 0) {
      if (!getcwd(base, sizeof base)) base[0] = '\0';
    } else {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
      const ssize_t k = readlink(link, base, sizeof base - 1);
      base[k > 0 ? k : 0] = '\0';
    }
  }
  char joined[2 * PATH_MAX + 2];
  snprintf(joined, sizeof joined, "%s%s%s", base, base[0] ? "/" : "", path);
  size_t o = 0;
  for (const char* s = joined; *s && o + 1 < cap; ++s) {
    if (*s == '/' && o > 0 && out[o - 1] == '/') continue;
    if (*s == '.' && o > 0 && out[o - 1] == '/' && (s[1] == '/' || s[1] == '\0')) {
      if (s[1] == '/') ++s;
      continue;
    }
    out[o++] = *s;
  }
  out[o] = '\0';
}

static int under(const char* prefix, int dirfd, const char* path) {
  if (!prefix || !path) return 0;
  char abs[PATH_MAX];
  absolute(dirfd, path, abs, sizeof abs);
  return strncmp(abs, prefix, strlen(prefix)) == 0;
}

static int writes(int flags) { return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) != 0; }
static int mode_writes(const char* mode) { return mode && (strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+')); }

static int denied(int dirfd, const char* path) {
  if (g_deny_prefix && under(g_deny_prefix, dirfd, path)) {
    errno = g_deny_errno;
    return 1;
  }
  return 0;
}

static void mark(int fd, int dirfd, const char* path, int write_access) {
  if (fd < 0 || fd >= MAX_FD) return;
  int bits = 0;
  if (write_access && under(g_full_prefix, dirfd, path)) bits |= METER_FULL;
  if (write_access && under(g_stop_prefix, dirfd, path)) bits |= METER_STOP;
  __atomic_store_n(&g_tracked[fd], (unsigned char)bits, __ATOMIC_RELAXED);
}
static int fd_bits(int fd) { return fd >= 0 && fd < MAX_FD ? __atomic_load_n(&g_tracked[fd], __ATOMIC_RELAXED) : 0; }
static int tracked(int fd) { return (fd_bits(fd) & METER_FULL) != 0; }

/* Counts n bytes towards the stop point; stops the process when they cross it. */
static void stop_meter(int bits, size_t n) {
  if (!(bits & METER_STOP) || n == 0) return;
  const unsigned long long before = __atomic_fetch_add(&g_stop_used, n, __ATOMIC_RELAXED);
  if (before + n > g_stop_after && !__atomic_exchange_n(&g_stopped, 1, __ATOMIC_RELAXED)) raise(SIGSTOP);
}

/* Bytes of a write of n that still fit; sets errno and returns -1 when nothing does. */
static ssize_t allowance(size_t n) {
  if (__atomic_load_n(&g_full, __ATOMIC_RELAXED)) {
    errno = ENOSPC;
    return -1;
  }
  for (;;) {
    unsigned long long used = __atomic_load_n(&g_used, __ATOMIC_RELAXED);
    const unsigned long long left = used < g_budget ? g_budget - used : 0;
    if (left == 0) {
      __atomic_store_n(&g_full, 1, __ATOMIC_RELAXED);
      errno = ENOSPC;
      return -1;
    }
    const unsigned long long take = n < left ? n : left;
    if (__atomic_compare_exchange_n(&g_used, &used, used + take, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      if (take < n) __atomic_store_n(&g_full, 1, __ATOMIC_RELAXED);
      return (ssize_t)take;
    }
  }
}

static int full_error(void) {
  if (__atomic_load_n(&g_full, __ATOMIC_RELAXED)) {
    errno = ENOSPC;
    return 1;
  }
  return 0;
}

/* ---- opening ----------------------------------------------------------------------------- */
static int do_openat(int dirfd, const char* path, int flags, mode_t mode, int at) {
  if (writes(flags) && denied(dirfd, path)) return -1;
  int fd;
  if (at) {
    REAL(openat, int, int, const char*, int, ...);
    fd = real_openat(dirfd, path, flags, mode);
  } else {
    REAL(open, int, const char*, int, ...);
    fd = real_open(path, flags, mode);
  }
  mark(fd, dirfd, path, (flags & (O_WRONLY | O_RDWR)) != 0);
  return fd;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_openat(AT_FDCWD, path, flags, mode, 0);
}
int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_openat(AT_FDCWD, path, flags, mode, 0);
}
int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_openat(dirfd, path, flags, mode, 1);
}
int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_openat(dirfd, path, flags, mode, 1);
}
int __open_2(const char* path, int flags) { return do_openat(AT_FDCWD, path, flags, 0, 0); }
int __open64_2(const char* path, int flags) { return do_openat(AT_FDCWD, path, flags, 0, 0); }
int __openat_2(int dirfd, const char* path, int flags) { return do_openat(dirfd, path, flags, 0, 1); }
int __openat64_2(int dirfd, const char* path, int flags) { return do_openat(dirfd, path, flags, 0, 1); }
int creat(const char* path, mode_t mode) { return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, 0); }
int creat64(const char* path, mode_t mode) { return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, 0); }

static void track_stream(FILE* f, int bits) {
  pthread_mutex_lock(&g_streams_mu);
  for (int i = 0; i < MAX_STREAMS; ++i)
    if (!g_streams[i]) {
      g_streams[i] = f;
      g_stream_bits[i] = bits;
      break;
    }
  pthread_mutex_unlock(&g_streams_mu);
}
/* METER_* bits of a stream (0: not metered); `forget` drops it from the table. */
static int stream_bits(FILE* f, int forget) {
  int bits = 0;
  pthread_mutex_lock(&g_streams_mu);
  for (int i = 0; i < MAX_STREAMS; ++i)
    if (g_streams[i] == f) {
      bits = g_stream_bits[i];
      if (forget) g_streams[i] = NULL;
      break;
    }
  pthread_mutex_unlock(&g_streams_mu);
  return bits;
}
static int stream_tracked(FILE* f, int forget) { return stream_bits(f, forget) != 0; }

static FILE* do_fopen(const char* path, const char* mode, int large) {
  if (mode_writes(mode) && denied(AT_FDCWD, path)) return NULL;
  FILE* f;
  if (large) {
    REAL(fopen64, FILE*, const char*, const char*);
    f = real_fopen64(path, mode);
  } else {
    REAL(fopen, FILE*, const char*, const char*);
    f = real_fopen(path, mode);
  }
  if (f) {
    mark(fileno(f), AT_FDCWD, path, mode_writes(mode));
    if (fd_bits(fileno(f))) track_stream(f, fd_bits(fileno(f)));
  }
  return f;
}
FILE* fopen(const char* path, const char* mode) { return do_fopen(path, mode, 0); }
FILE* fopen64(const char* path, const char* mode) { return do_fopen(path, mode, 1); }

/* ---- folder changes ---------------------------------------------------------------------- */
int mkdir(const char* path, mode_t mode) {
  if (denied(AT_FDCWD, path)) return -1;
  REAL(mkdir, int, const char*, mode_t);
  return real_mkdir(path, mode);
}
int mkdirat(int dirfd, const char* path, mode_t mode) {
  if (denied(dirfd, path)) return -1;
  REAL(mkdirat, int, int, const char*, mode_t);
  return real_mkdirat(dirfd, path, mode);
}
int rename(const char* from, const char* to) {
  if (denied(AT_FDCWD, from) || denied(AT_FDCWD, to)) return -1;
  REAL(rename, int, const char*, const char*);
  return real_rename(from, to);
}
int renameat(int fd1, const char* from, int fd2, const char* to) {
  if (denied(fd1, from) || denied(fd2, to)) return -1;
  REAL(renameat, int, int, const char*, int, const char*);
  return real_renameat(fd1, from, fd2, to);
}
int renameat2(int fd1, const char* from, int fd2, const char* to, unsigned flags) {
  if (denied(fd1, from) || denied(fd2, to)) return -1;
  REAL(renameat2, int, int, const char*, int, const char*, unsigned);
  return real_renameat2(fd1, from, fd2, to, flags);
}
int unlink(const char* path) {
  if (denied(AT_FDCWD, path)) return -1;
  REAL(unlink, int, const char*);
  return real_unlink(path);
}
int unlinkat(int dirfd, const char* path, int flags) {
  if (denied(dirfd, path)) return -1;
  REAL(unlinkat, int, int, const char*, int);
  return real_unlinkat(dirfd, path, flags);
}
int rmdir(const char* path) {
  if (denied(AT_FDCWD, path)) return -1;
  REAL(rmdir, int, const char*);
  return real_rmdir(path);
}
int link(const char* from, const char* to) {
  if (denied(AT_FDCWD, to)) return -1;
  REAL(link, int, const char*, const char*);
  return real_link(from, to);
}
int symlink(const char* target, const char* path) {
  if (denied(AT_FDCWD, path)) return -1;
  REAL(symlink, int, const char*, const char*);
  return real_symlink(target, path);
}
int truncate(const char* path, off_t len) {
  if (denied(AT_FDCWD, path)) return -1;
  REAL(truncate, int, const char*, off_t);
  return real_truncate(path, len);
}

/* ---- writing through descriptors --------------------------------------------------------- */
ssize_t write(int fd, const void* buf, size_t n) {
  REAL(write, ssize_t, int, const void*, size_t);
  stop_meter(fd_bits(fd), n);
  if (!tracked(fd) || n == 0) return real_write(fd, buf, n);
  const ssize_t ok = allowance(n);
  if (ok < 0) return -1;
  return real_write(fd, buf, (size_t)ok);
}
ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  REAL(pwrite, ssize_t, int, const void*, size_t, off_t);
  stop_meter(fd_bits(fd), n);
  if (!tracked(fd) || n == 0) return real_pwrite(fd, buf, n, off);
  const ssize_t ok = allowance(n);
  if (ok < 0) return -1;
  return real_pwrite(fd, buf, (size_t)ok, off);
}
ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) { return pwrite(fd, buf, n, off); }

/* The first iovecs holding at most `ok` bytes (the last one cut). */
static int clip_iov(const struct iovec* iov, int cnt, size_t ok, struct iovec* out) {
  int k = 0;
  for (int i = 0; i < cnt && ok > 0 && k < 64; ++i) {
    out[k] = iov[i];
    if (out[k].iov_len > ok) out[k].iov_len = ok;
    ok -= out[k].iov_len;
    ++k;
  }
  return k;
}
static size_t iov_total(const struct iovec* iov, int cnt) {
  size_t t = 0;
  for (int i = 0; i < cnt; ++i) t += iov[i].iov_len;
  return t;
}
ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  REAL(writev, ssize_t, int, const struct iovec*, int);
  const size_t n = iov_total(iov, cnt);
  stop_meter(fd_bits(fd), n);
  if (!tracked(fd) || n == 0) return real_writev(fd, iov, cnt);
  const ssize_t ok = allowance(n);
  if (ok < 0) return -1;
  struct iovec cut[64];
  return real_writev(fd, cut, clip_iov(iov, cnt, (size_t)ok, cut));
}
ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  REAL(pwritev, ssize_t, int, const struct iovec*, int, off_t);
  const size_t n = iov_total(iov, cnt);
  stop_meter(fd_bits(fd), n);
  if (!tracked(fd) || n == 0) return real_pwritev(fd, iov, cnt, off);
  const ssize_t ok = allowance(n);
  if (ok < 0) return -1;
  struct iovec cut[64];
  return real_pwritev(fd, cut, clip_iov(iov, cnt, (size_t)ok, cut), off);
}
ssize_t pwritev64(int fd, const struct iovec* iov, int cnt, off_t off) { return pwritev(fd, iov, cnt, off); }

int fsync(int fd) {
  if (tracked(fd) && full_error()) return -1;
  REAL(fsync, int, int);
  return real_fsync(fd);
}
int fdatasync(int fd) {
  if (tracked(fd) && full_error()) return -1;
  REAL(fdatasync, int, int);
  return real_fdatasync(fd);
}
int fallocate(int fd, int mode, off_t off, off_t len) {
  if (tracked(fd) && full_error()) return -1;
  REAL(fallocate, int, int, int, off_t, off_t);
  return real_fallocate(fd, mode, off, len);
}
int fallocate64(int fd, int mode, off_t off, off_t len) { return fallocate(fd, mode, off, len); }
int posix_fallocate(int fd, off_t off, off_t len) {
  if (tracked(fd) && __atomic_load_n(&g_full, __ATOMIC_RELAXED)) return ENOSPC;
  REAL(posix_fallocate, int, int, off_t, off_t);
  return real_posix_fallocate(fd, off, len);
}
int posix_fallocate64(int fd, off_t off, off_t len) { return posix_fallocate(fd, off, len); }

int close(int fd) {
  if (fd >= 0 && fd < MAX_FD) __atomic_store_n(&g_tracked[fd], 0, __ATOMIC_RELAXED);
  REAL(close, int, int);
  return real_close(fd);
}
int dup(int fd) {
  REAL(dup, int, int);
  const int r = real_dup(fd);
  if (r >= 0 && r < MAX_FD) __atomic_store_n(&g_tracked[r], (unsigned char)fd_bits(fd), __ATOMIC_RELAXED);
  return r;
}
int dup2(int fd, int to) {
  REAL(dup2, int, int, int);
  const int r = real_dup2(fd, to);
  if (r >= 0 && r < MAX_FD) __atomic_store_n(&g_tracked[r], (unsigned char)fd_bits(fd), __ATOMIC_RELAXED);
  return r;
}

/* ---- writing through FILE streams -------------------------------------------------------- */
size_t fwrite(const void* p, size_t size, size_t count, FILE* f) {
  REAL(fwrite, size_t, const void*, size_t, size_t, FILE*);
  const int bits = size && count ? stream_bits(f, 0) : 0;
  stop_meter(bits, size * count);
  if (!(bits & METER_FULL)) return real_fwrite(p, size, count, f);
  const ssize_t ok = allowance(size * count);
  if (ok < 0) {
    f->_flags |= IO_ERR_SEEN;
    errno = ENOSPC;
    return 0;
  }
  const size_t whole = (size_t)ok / size;
  const size_t done = whole ? real_fwrite(p, size, whole, f) : 0;
  if (whole < count) {
    f->_flags |= IO_ERR_SEEN;
    errno = ENOSPC;
  }
  return done;
}
int fputs(const char* s, FILE* f) {
  if (!stream_tracked(f, 0)) {
    REAL(fputs, int, const char*, FILE*);
    return real_fputs(s, f);
  }
  const size_t n = strlen(s);
  return fwrite(s, 1, n, f) == n ? 1 : EOF;
}
int fputc(int c, FILE* f) {
  if (!stream_tracked(f, 0)) {
    REAL(fputc, int, int, FILE*);
    return real_fputc(c, f);
  }
  const unsigned char b = (unsigned char)c;
  return fwrite(&b, 1, 1, f) == 1 ? b : EOF;
}
#undef putc
int putc(int c, FILE* f) { return fputc(c, f); }
int _IO_putc(int c, FILE* f) { return fputc(c, f); }

static int metered_vfprintf(FILE* f, const char* fmt, va_list ap) {
  char* text = NULL;
  const int n = vasprintf(&text, fmt, ap);
  if (n < 0) return -1;
  const size_t done = fwrite(text, 1, (size_t)n, f);
  free(text);
  return done == (size_t)n ? n : -1;
}
int vfprintf(FILE* f, const char* fmt, va_list ap) {
  if (stream_tracked(f, 0)) return metered_vfprintf(f, fmt, ap);
  REAL(vfprintf, int, FILE*, const char*, va_list);
  return real_vfprintf(f, fmt, ap);
}
int fprintf(FILE* f, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int r = vfprintf(f, fmt, ap);
  va_end(ap);
  return r;
}
int __vfprintf_chk(FILE* f, int flag, const char* fmt, va_list ap) {
  if (stream_tracked(f, 0)) return metered_vfprintf(f, fmt, ap);
  REAL(__vfprintf_chk, int, FILE*, int, const char*, va_list);
  return real___vfprintf_chk(f, flag, fmt, ap);
}
int __fprintf_chk(FILE* f, int flag, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int r = __vfprintf_chk(f, flag, fmt, ap);
  va_end(ap);
  return r;
}

int fflush(FILE* f) {
  REAL(fflush, int, FILE*);
  const int r = real_fflush(f);
  if (f && (stream_bits(f, 0) & METER_FULL) && full_error()) return EOF;
  return r;
}
int fclose(FILE* f) {
  const int metered = (stream_bits(f, 1) & METER_FULL) != 0;
  const int fd = fileno(f);
  if (fd >= 0 && fd < MAX_FD) __atomic_store_n(&g_tracked[fd], 0, __ATOMIC_RELAXED);
  REAL(fclose, int, FILE*);
  const int r = real_fclose(f);
  if (metered && full_error()) return EOF;
  return r;
}
