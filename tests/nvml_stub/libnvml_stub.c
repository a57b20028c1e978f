/* A stand-in libnvidia-ml.so.1 for machines without a GPU.
 *
 * It exports the NVML entry points the collector uses, with the real ABI, so
 * the real nvidia-ml-py (and its NVMLError classes) runs on top of it. The
 * GPU states come from a text file, re-read whenever it changes (replace it
 * atomically): $NVML_STUB_DATA, else "gpus.txt" beside this library.
 *
 *   count N
 *   gpu I KEY VALUE...     name, uuid, pci, util, mem_total, mem_used (bytes),
 *                          temp, power, power_limit, power_min, power_max (mW),
 *                          reasons (bitmask), ecc, retired, remap C U P F,
 *                          proc PID BYTES, gproc PID BYTES,
 *                          hang MS (its utilisation query first sleeps: a stuck driver)
 *   fail I WHAT CODE       WHAT: a key above, procs, gprocs, handle, register, set_power_limit,
 *                          or "*" for every device call except handle
 *   event SEQ I XID        delivered once, in SEQ order, by nvmlEventSetWait_v2
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_GPUS 128
#define MAX_PROCS 32
#define MAX_FAILS 16
#define MAX_EVENTS 1024

enum { OK = 0, ERR_INVALID_ARGUMENT = 2, ERR_NOT_SUPPORTED = 3, ERR_INSUFFICIENT_SIZE = 7, ERR_TIMEOUT = 10 };

typedef struct { unsigned int pid; unsigned long long used; unsigned int gi, ci; } proc_t;
typedef struct { char what[16]; int code; } fail_t;

typedef struct {
    char name[96], uuid[80], pci[32];
    unsigned int util, temp, power, power_limit, power_min, power_max, retired, remap[4], hang_ms;
    unsigned long long mem_total, mem_used, reasons, ecc;
    proc_t procs[MAX_PROCS], gprocs[MAX_PROCS];
    int nprocs, ngprocs, nfails;
    fail_t fails[MAX_FAILS];
} gpu_t;

typedef struct { long seq; int gpu; unsigned long long xid; } event_t;

typedef struct {
    void *device;
    unsigned long long type, data;
    unsigned int gi, ci;
} event_data_t;

typedef struct { unsigned long long mask[MAX_GPUS]; long seen; } event_set_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static gpu_t gpus[MAX_GPUS];
static int ngpus;
static event_t events[MAX_EVENTS];
static int nevents;
static char path[PATH_MAX];
static struct stat last;

static void locate(void) {
    const char *env = getenv("NVML_STUB_DATA");
    Dl_info info;
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else if (dladdr((void *)locate, &info) && info.dli_fname) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", info.dli_fname);
        snprintf(path, sizeof path, "%s/gpus.txt", dirname(dir));
    }
}

static void parse_gpu_key(gpu_t *g, const char *key, const char *rest) {
    if (!strcmp(key, "name")) snprintf(g->name, sizeof g->name, "%s", rest);
    else if (!strcmp(key, "uuid")) snprintf(g->uuid, sizeof g->uuid, "%s", rest);
    else if (!strcmp(key, "pci")) snprintf(g->pci, sizeof g->pci, "%s", rest);
    else if (!strcmp(key, "util")) g->util = strtoul(rest, NULL, 0);
    else if (!strcmp(key, "temp")) g->temp = strtoul(rest, NULL, 0);
    else if (!strcmp(key, "power")) g->power = strtoul(rest, NULL, 0);
    else if (!strcmp(key, "power_limit")) g->power_limit = strtoul(rest, NULL, 0);
    else if (!strcmp(key, "power_min")) g->power_min = strtoul(rest, NULL, 0);
    else if (!strcmp(key, "power_max")) g->power_max = strtoul(rest, NULL, 0);
    else if (!strcmp(key, "retired")) g->retired = strtoul(rest, NULL, 0);
    else if (!strcmp(key, "hang")) g->hang_ms = strtoul(rest, NULL, 0);
    else if (!strcmp(key, "mem_total")) g->mem_total = strtoull(rest, NULL, 0);
    else if (!strcmp(key, "mem_used")) g->mem_used = strtoull(rest, NULL, 0);
    else if (!strcmp(key, "reasons")) g->reasons = strtoull(rest, NULL, 0);
    else if (!strcmp(key, "ecc")) g->ecc = strtoull(rest, NULL, 0);
    else if (!strcmp(key, "remap"))
        sscanf(rest, "%u %u %u %u", &g->remap[0], &g->remap[1], &g->remap[2], &g->remap[3]);
    else if (!strcmp(key, "proc") && g->nprocs < MAX_PROCS) {
        proc_t *p = &g->procs[g->nprocs++];
        sscanf(rest, "%u %llu", &p->pid, &p->used);
    } else if (!strcmp(key, "gproc") && g->ngprocs < MAX_PROCS) {
        proc_t *p = &g->gprocs[g->ngprocs++];
        sscanf(rest, "%u %llu", &p->pid, &p->used);
    }
}

/* Called with the lock held: re-read the file when it was replaced or changed. */
static void refresh(void) {
    struct stat st;
    char line[512], key[32], what[16];
    int i, code;
    long seq;
    unsigned long long xid;
    if (!path[0]) locate();
    if (stat(path, &st) != 0) return;
    if (st.st_ino == last.st_ino && st.st_size == last.st_size &&
        st.st_mtim.tv_sec == last.st_mtim.tv_sec && st.st_mtim.tv_nsec == last.st_mtim.tv_nsec)
        return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    last = st;
    memset(gpus, 0, sizeof gpus);
    ngpus = nevents = 0;
    while (fgets(line, sizeof line, f)) {
        int used = 0;
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "count %d", &ngpus) == 1) {
            if (ngpus > MAX_GPUS) ngpus = MAX_GPUS;
        } else if (sscanf(line, "gpu %d %31s %n", &i, key, &used) == 2 && i >= 0 && i < MAX_GPUS) {
            parse_gpu_key(&gpus[i], key, line + used);
        } else if (sscanf(line, "fail %d %15s %d", &i, what, &code) == 3 && i >= 0 && i < MAX_GPUS &&
                   gpus[i].nfails < MAX_FAILS) {
            fail_t *x = &gpus[i].fails[gpus[i].nfails++];
            snprintf(x->what, sizeof x->what, "%s", what);
            x->code = code;
        } else if (sscanf(line, "event %ld %d %llu", &seq, &i, &xid) == 3 && nevents < MAX_EVENTS) {
            events[nevents++] = (event_t){seq, i, xid};
        }
    }
    fclose(f);
}

static int index_of(void *device) {
    long i = (gpu_t *)device - gpus;
    return (device && i >= 0 && i < ngpus) ? (int)i : -1;
}

/* Lock, refresh, find the GPU and its configured failure for WHAT; returns the GPU or NULL with *rc set. */
static gpu_t *enter(void *device, const char *what, int *rc) {
    pthread_mutex_lock(&lock);
    refresh();
    int i = index_of(device);
    *rc = OK;
    if (i < 0) { *rc = ERR_INVALID_ARGUMENT; return NULL; }
    if (gpus[i].hang_ms && !strcmp(what, "util")) {
        struct timespec t = {gpus[i].hang_ms / 1000, (long)(gpus[i].hang_ms % 1000) * 1000000L};
        pthread_mutex_unlock(&lock);
        nanosleep(&t, NULL);
        pthread_mutex_lock(&lock);
        refresh();
    }
    for (int k = 0; k < gpus[i].nfails; k++) {
        const char *w = gpus[i].fails[k].what;
        if (!strcmp(w, what) || (!strcmp(w, "*") && strcmp(what, "handle"))) {
            *rc = gpus[i].fails[k].code;
            return NULL;
        }
    }
    return &gpus[i];
}

#define GETTER(what, body)                          \
    int rc;                                         \
    gpu_t *g = enter(device, what, &rc);            \
    if (g) { body; }                                \
    pthread_mutex_unlock(&lock);                    \
    return rc;

int nvmlInitWithFlags(unsigned int flags) { (void)flags; return OK; }
int nvmlInit_v2(void) { return OK; }
int nvmlShutdown(void) { return OK; }

const char *nvmlErrorString(int result) {
    static char buf[64];
    snprintf(buf, sizeof buf, "stub NVML error %d", result);
    return buf;
}

int nvmlDeviceGetCount_v2(unsigned int *count) {
    pthread_mutex_lock(&lock);
    refresh();
    *count = (unsigned int)ngpus;
    pthread_mutex_unlock(&lock);
    return OK;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **device) {
    int rc;
    if (index >= MAX_GPUS) return ERR_INVALID_ARGUMENT;
    gpu_t *g = enter(&gpus[index], "handle", &rc);
    if (g) *device = g;
    pthread_mutex_unlock(&lock);
    return rc;
}

int nvmlDeviceGetName(void *device, char *name, unsigned int length) {
    GETTER("name", snprintf(name, length, "%s", g->name))
}

int nvmlDeviceGetUUID(void *device, char *uuid, unsigned int length) {
    GETTER("uuid", snprintf(uuid, length, "%s", g->uuid))
}

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} pci_info_t;

int nvmlDeviceGetPciInfo_v3(void *device, pci_info_t *pci) {
    GETTER("pci", memset(pci, 0, sizeof *pci); snprintf(pci->busId, sizeof pci->busId, "%s", g->pci))
}

int nvmlDeviceGetUtilizationRates(void *device, unsigned int *util) {
    GETTER("util", util[0] = g->util; util[1] = 0)
}

int nvmlDeviceGetMemoryInfo(void *device, unsigned long long *mem) {
    GETTER("mem", mem[0] = g->mem_total; mem[1] = g->mem_total - g->mem_used; mem[2] = g->mem_used)
}

int nvmlDeviceGetTemperature(void *device, int sensor, unsigned int *temp) {
    GETTER("temp", (void)sensor; *temp = g->temp)
}

int nvmlDeviceGetPowerUsage(void *device, unsigned int *mw) { GETTER("power", *mw = g->power) }

int nvmlDeviceGetEnforcedPowerLimit(void *device, unsigned int *mw) {
    GETTER("power_limit", *mw = g->power_limit)
}

int nvmlDeviceGetPowerManagementLimitConstraints(void *device, unsigned int *lo, unsigned int *hi) {
    GETTER("constraints", *lo = g->power_min; *hi = g->power_max)
}

/* Kept in memory until the data file changes, as a real cap lasts until the driver reloads. */
int nvmlDeviceSetPowerManagementLimit(void *device, unsigned int mw) {
    int rc;
    gpu_t *g = enter(device, "set_power_limit", &rc);
    if (g) {
        if (mw < g->power_min || mw > g->power_max) rc = ERR_INVALID_ARGUMENT;
        else g->power_limit = mw;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int nvmlDeviceGetCurrentClocksEventReasons(void *device, unsigned long long *reasons) {
    GETTER("reasons", *reasons = g->reasons)
}

int nvmlDeviceGetTotalEccErrors(void *device, int type, int counter, unsigned long long *count) {
    GETTER("ecc", (void)type; (void)counter; *count = g->ecc)
}

int nvmlDeviceGetRetiredPagesPendingStatus(void *device, int *pending) {
    GETTER("retired", *pending = (int)g->retired)
}

int nvmlDeviceGetRemappedRows(void *device, unsigned int *c, unsigned int *u, unsigned int *p,
                              unsigned int *f) {
    GETTER("remap", *c = g->remap[0]; *u = g->remap[1]; *p = g->remap[2]; *f = g->remap[3])
}

static int list_procs(const proc_t *src, int n, unsigned int *count, proc_t *out) {
    if (!out || *count < (unsigned int)n) {
        int short_of = n > 0 && *count < (unsigned int)n;
        *count = (unsigned int)n;
        return short_of ? ERR_INSUFFICIENT_SIZE : OK;
    }
    memcpy(out, src, sizeof(proc_t) * (size_t)n);
    *count = (unsigned int)n;
    return OK;
}

int nvmlDeviceGetComputeRunningProcesses_v3(void *device, unsigned int *count, proc_t *out) {
    GETTER("procs", rc = list_procs(g->procs, g->nprocs, count, out))
}

int nvmlDeviceGetGraphicsRunningProcesses_v3(void *device, unsigned int *count, proc_t *out) {
    GETTER("gprocs", rc = list_procs(g->gprocs, g->ngprocs, count, out))
}

int nvmlEventSetCreate(event_set_t **set) {
    *set = calloc(1, sizeof **set);
    pthread_mutex_lock(&lock);
    refresh();
    /* Like the real one, a new set only reports what happens from now on. */
    for (int k = 0; k < nevents; k++)
        if (events[k].seq > (*set)->seen) (*set)->seen = events[k].seq;
    pthread_mutex_unlock(&lock);
    return OK;
}

int nvmlDeviceRegisterEvents(void *device, unsigned long long types, event_set_t *set) {
    GETTER("register", set->mask[g - gpus] |= types)
}

int nvmlEventSetWait_v2(event_set_t *set, event_data_t *data, unsigned int timeout_ms) {
    struct timespec step = {0, 5 * 1000 * 1000};
    for (unsigned int waited = 0;; waited += 5) {
        pthread_mutex_lock(&lock);
        refresh();
        int best = -1;
        for (int k = 0; k < nevents; k++) {
            const event_t *e = &events[k];
            if (e->seq > set->seen && e->gpu >= 0 && e->gpu < ngpus && set->mask[e->gpu] &&
                (best < 0 || e->seq < events[best].seq))
                best = k;
        }
        if (best >= 0) {
            set->seen = events[best].seq;
            *data = (event_data_t){&gpus[events[best].gpu], 0x8 /* Xid critical error */, events[best].xid, 0, 0};
            pthread_mutex_unlock(&lock);
            return OK;
        }
        pthread_mutex_unlock(&lock);
        if (waited >= timeout_ms) return ERR_TIMEOUT;
        nanosleep(&step, NULL);
    }
}

int nvmlEventSetFree(event_set_t *set) {
    free(set);
    return OK;
}
