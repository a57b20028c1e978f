# ruff: noqa: E501 (log lines are data; they keep their real length)
"""Cause lines for the faults outside the program's code: transient, oom, bad_config,
permission, port_in_use (the rest are in causes_code.py).

One template per line, in the slot language of slots.py. ` ⏎ ` splits a
template into several log lines; `»` marks the line that explains the failure
(without it, the last line does). A template starting with `py ` is a Python
exception line that the generator may put under a traceback.
"""

TRANSIENT = """
py ConnectionResetError: [Errno 104] Connection reset by peer
py ConnectionRefusedError: [Errno 111] Connection refused
py requests.exceptions.ConnectionError: HTTPConnectionPool(host='{host}', port={port}): Max retries exceeded with url: /v1/health (Caused by NewConnectionError: Failed to establish a new connection: [Errno 111] Connection refused)
py requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='{host}', port=443): Read timed out. (read timeout={sec})
py urllib3.exceptions.ProtocolError: ('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))
py socket.gaierror: [Errno -3] Temporary failure in name resolution
py TimeoutError: [Errno 110] Connection timed out
py asyncio.exceptions.TimeoutError
py httpx.ConnectTimeout: timed out while connecting to {host}
py redis.exceptions.ConnectionError: Error 111 connecting to {host}:6379. Connection refused.
py »psycopg2.OperationalError: could not connect to server: Connection refused ⏎ 	Is the server running on host "{host}" and accepting TCP/IP connections on port 5432?
py sqlalchemy.exc.OperationalError: (pymysql.err.OperationalError) (2013, 'Lost connection to MySQL server during query')
py grpc._channel._InactiveRpcError: <_InactiveRpcError of RPC that terminated with: status = StatusCode.UNAVAILABLE details = "failed to connect to all addresses">
py grpc.RpcError: StatusCode.DEADLINE_EXCEEDED: Deadline Exceeded
py botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "{url}"
py huggingface_hub.errors.HfHubHTTPError: 503 Server Error: Service Unavailable for url: {url}
py ssl.SSLEOFError: EOF occurred in violation of protocol (_ssl.c:2427)
py BrokenPipeError: [Errno 32] Broken pipe
py OSError: [Errno 101] Network is unreachable
py OSError: [Errno 113] No route to host
py kafka.errors.NoBrokersAvailable: NoBrokersAvailable
py pika.exceptions.AMQPConnectionError: Connection to {host}:5672 failed: timeout
py torch.distributed.DistNetworkError: The client socket has timed out after {sec}s while trying to connect to ({host}, 29500).
py RuntimeError: [c10d] The server socket has timed out and will retry
py torch.distributed.DistBackendError: NCCL communicator was aborted on rank {rank}: remote process exited or there was a network error
[E ProcessGroupNCCL.cpp:{line}] [Rank {rank}] Watchdog caught collective operation timeout: WorkNCCL(SeqNum={big}, OpType=ALLREDUCE) ran for {big} milliseconds before timing out.
NCCL WARN NET/IB : Got completion from peer {host}<{port}> with status=12 opcode=0 len=0 vendor err 129 (Send) localGid ::ffff:10.1.0.4 remoteGid ::ffff:10.1.0.9
NCCL WARN socketProgress: Connection closed by remote peer {host}<{port}>
slurmstepd: error: *** JOB {big} ON {node} CANCELLED AT 2026-03-{line}T10:00:00 DUE TO PREEMPTION ***
slurmstepd: error: *** STEP {big}.0 ON {node} CANCELLED AT 2026-05-02T04:12:55 DUE TO NODE FAILURE ***
srun: error: Node failure on {node}
[job was requeued by the scheduler: preempted by a higher-priority job]
Received SIGTERM: [the job was preempted|this spot instance is being reclaimed|node is being drained for maintenance], saving state and exiting
WARNING: spot instance interruption notice received, instance terminating in 120 seconds
upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.3.7, upstream: "{url}"
connect() failed (111: Connection refused) while connecting to upstream, client: 10.4.0.2, server: _, upstream: "http://127.0.0.1:{port}/"
dial tcp {host}:{port}: connect: connection refused
dial tcp: lookup {host} on 127.0.0.53:53: server misbehaving
read tcp 10.0.0.12:{port}->{host}: read: connection reset by peer
write tcp 10.0.0.12:{port}->10.0.0.5:443: write: broken pipe
context deadline exceeded (Client.Timeout exceeded while awaiting headers)
Error: Get "{url}": net/http: TLS handshake timeout
java.net.SocketTimeoutException: Read timed out
java.net.ConnectException: Connection refused (Connection refused)
org.apache.kafka.common.errors.TimeoutException: Topic events not present in metadata after 60000 ms.
com.zaxxer.hikari.pool.HikariPool$PoolInitializationException: Failed to initialize pool: Communications link failure
Error: connect ECONNREFUSED {host}:{port}
Error: getaddrinfo EAI_AGAIN {host}
FetchError: request to {url} failed, reason: socket hang up
curl: (28) Operation timed out after {big} milliseconds with 0 bytes received
curl: (6) Could not resolve host: {host}
curl: (56) Recv failure: Connection reset by peer
FATAL: terminating connection due to administrator command ⏎ server closed the connection unexpectedly
ERROR 2003 (HY000): Can't connect to MySQL server on '{host}:3306' (111)
Could not connect to Redis at {host}:6379: Connection refused
etcdserver: request timed out, possibly due to previous leader failure
etcdserver: leader changed
raft: lost leader, no quorum for term {n}
[{ts}] WARN  [http] upstream {host} returned 503 Service Unavailable (attempt [3|5] of [3|5])
HTTP 429 Too Many Requests from {host}: rate limit exceeded, retry after {sec}s
HTTPError: 502 Bad Gateway for url {url}
error: RPC failed; curl 18 transfer closed with outstanding read data remaining
fatal: unable to access '{url}': Could not resolve host: {host}
The remote server did not answer within {sec} seconds; giving up on this attempt
lost connection to [the coordinator|the scheduler|the parameter server|the head node|the broker] at {host}; [will retry|retrying later|exiting so the job can be restarted]
worker heartbeat to {host} missed for {sec}s, assuming the connection dropped
[the peer|the remote end|the other side] hung up unexpectedly ([connection reset|EOF on socket])
resource temporarily unavailable (EAGAIN) on {sock}, try again later
nfs: server nfs-01 not responding, still trying
Stale NFS file handle while reading {path}, the server went away
ray.exceptions.RaySystemError: System error: Failed to connect to GCS at {host}:6379 within {sec} seconds
ray.exceptions.NodeDiedError: The node running this task ({host}) died unexpectedly.
dask.distributed - WARNING - Worker tcp://{host}:{port} failed to heartbeat within {sec} seconds; closing worker
org.apache.zookeeper.KeeperException$SessionExpiredException: KeeperErrorCode = Session expired for /brokers/ids
com.datastax.oss.driver.api.core.AllNodesFailedException: All 3 node(s) tried for the query failed (showing first 3 nodes, use getAllErrors() for more): Node(endPoint={host}:9042): [connection timeout]
MongoServerSelectionError: connection <monitor> to {host}:27017 timed out
pymongo.errors.AutoReconnect: {host}:27017: [Errno 104] Connection reset by peer
elasticsearch.exceptions.ConnectionTimeout: ConnectionTimeout caused by - ReadTimeoutError(HTTPConnectionPool(host='{host}', port=9200): Read timed out. (read timeout={sec}))
nats: no servers available for connection
[ERROR] consul: RPC failed to server {host}:8300: rpc error making call: EOF
upstream connect error or disconnect/reset before headers. reset reason: connection termination
ORTE has lost communication with a remote daemon. HNP daemon: [[{n},0],0] on node {node}
[E socket.cpp:{line}] [c10d] The client socket has failed to connect to [{host}]:29500 (errno: 110 - Connection timed out).
gloo: Connection closed by peer [{host}]:{port}
HTCondor: Job was evicted. (1) Job was not checkpointed.
=>> PBS: job killed: preempted by a job of higher priority
the job was requeued because its node {node} rebooted unexpectedly
S3 upload failed: RequestTimeout: Your socket connection to the server was not read from or written to within the timeout period.
google.api_core.exceptions.ServiceUnavailable: 503 The service is currently unavailable.
azure.core.exceptions.ServiceRequestError: <urllib3.connection.HTTPSConnection object at 0x7f3a>: Failed to establish a new connection: [Errno -2] Name or service not known
ldap_bind: Can't contact LDAP server (-1)
WARN  [{unit}] retry budget exhausted talking to {host}: the backend kept answering 503
ERROR: Could not install packages due to an OSError: HTTPSConnectionPool(host='files.pythonhosted.org', port=443): Read timed out.
W: Failed to fetch http://archive.ubuntu.com/ubuntu/dists/jammy/InRelease  Temporary failure resolving 'archive.ubuntu.com'
Error response from daemon: Get "https://registry-1.docker.io/v2/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)
fatal: the remote end hung up unexpectedly
py aiohttp.client_exceptions.ServerDisconnectedError: Server disconnected
py httpcore.ReadTimeout: timed out
websocket: close 1006 (abnormal closure): unexpected EOF
py torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError
E0312 leaderelection.go:{line}] error retrieving resource lock kube-system/{unit}: context deadline exceeded ⏎ »leaderelection lost
504 Gateway Time-out from {host} after {sec}s
py ConnectionAbortedError: [Errno 103] Software caused connection abort
the scheduler preempted this job to make room for a higher priority allocation (signal {sig})
"""

OOM = """
py torch.OutOfMemoryError: CUDA out of memory. Tried to allocate {size}. GPU {gpu} has a total capacity of 79.10 GiB of which {size} is free. Including non-PyTorch memory, this process has {size} memory in use.
py torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate {size} (GPU {gpu}; 39.59 GiB total capacity; {size} already allocated; {size} free; {size} reserved in total by PyTorch)
py RuntimeError: CUDA error: out of memory
py MemoryError
py MemoryError: Unable to allocate {size} for an array with shape ({big}, {big}) and data type float64
py numpy.core._exceptions._ArrayMemoryError: Unable to allocate {size} for an array with shape ({big},) and data type float32
py tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor with shape[{n},{big},1024] and type float on /job:localhost/replica:0/task:0/device:GPU:{gpu} by allocator GPU_0_bfc
py jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate {big} bytes.
py ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.
py RuntimeError: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`
py RuntimeError: [enforce fail at alloc_cpu.cpp:{line}] . DefaultCPUAllocator: can't allocate memory: you tried to allocate {big} bytes. Error code 12 (Cannot allocate memory)
py OSError: [Errno 12] Cannot allocate memory
kernel: Out of memory: Killed process {pid} ({prog}) total-vm:{big}kB, anon-rss:{big}kB, file-rss:0kB, shmem-rss:0kB
kernel: Memory cgroup out of memory: Killed process {pid} ({prog}) total-vm:{big}kB, anon-rss:{big}kB
kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0-1,task={prog},pid={pid},uid=1000
kernel: {prog} invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0
{unit}.service: A process of this unit has been killed by the OOM killer.
{unit}.service: Failed with result 'oom-kill'.
systemd-oomd[{pid}]: Killed /system.slice/{unit}.service due to memory pressure for /system.slice being 92.13% > 80.00% for > 20s with reclaim activity
slurmstepd: error: Detected {n} oom_kill event in StepId={big}.batch. Some of the step tasks have been OOM Killed.
slurmstepd: error: Job {big} exceeded memory limit ({big} > {big}), being killed
Exception in thread "main" java.lang.OutOfMemoryError: Java heap space
java.lang.OutOfMemoryError: GC overhead limit exceeded
java.lang.OutOfMemoryError: Direct buffer memory
fatal error: runtime: out of memory
runtime: out of memory: cannot allocate {big}-byte block ({big} in use)
memory allocation of {big} bytes failed
terminate called after throwing an instance of 'std::bad_alloc' ⏎   what():  std::bad_alloc
FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory
<--- JS stacktrace ---> ⏎ »FATAL ERROR: Ineffective mark-compacts near heap limit Allocation failed - JavaScript heap out of memory
OOM command not allowed when used memory > 'maxmemory'.
»ERROR:  out of memory ⏎ DETAIL:  Failed on request of size {big} in memory context "ExecutorState".
mmap({big}) failed: Cannot allocate memory
cudaMalloc failed: out of memory (requested {size})
CUDA error 2 at ggml-cuda.cu:{line}: out of memory
ggml_backend_cuda_buffer_type_alloc_buffer: allocating {big}.00 MiB on device {gpu}: cudaMalloc failed: out of memory
error: failed to allocate {size} for the KV cache: not enough device memory
llama_model_load: error loading model: unable to allocate backend buffer
RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:{line}, unhandled cuda error, NCCL version 2.21.5 ⏎ »ncclUnhandledCudaError: Call to CUDA function failed. Last error: out of memory
Container {unit} was OOMKilled (exit code 137): memory limit {size} exceeded
The node was low on resource: memory. Container {unit} was using {size}, which exceeds its request of {size}.
job {big} was killed: resident memory {size} exceeded the {size} limit of its allocation
worker {pid} exceeded its memory budget ({size} used of {size}); the supervisor killed it
the GPU ran out of [memory|VRAM] while [loading the weights|building the KV cache|allocating activations] ({size} requested, {size} free)
[allocation|malloc] of {size} failed: [not enough memory|insufficient memory|memory exhausted]
[host|system] memory exhausted: {prog} was [killed|terminated] by the kernel to free {size}
killed by the out-of-memory killer (rss {size})
PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate {big} bytes)
[NoMemoryError] failed to allocate memory
eheap_alloc: Cannot allocate {big} bytes of memory (of type "heap").
Code: 241. DB::Exception: Memory limit (total) exceeded: would use {size} (attempt to allocate chunk of {big} bytes), maximum: {size}. (MEMORY_LIMIT_EXCEEDED)
org.elasticsearch.common.breaker.CircuitBreakingException: [parent] Data too large, data for [<http_request>] would be [{big}/{size}], which is larger than the limit of [{big}/{size}]
java.lang.OutOfMemoryError: Metaspace
kernel: oom_reaper: reaped process {pid} ({prog}), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB
kernel: Out of memory and no killable processes...
hipErrorOutOfMemory: out of memory allocating {size} on device {gpu}
CUDA_ERROR_OUT_OF_MEMORY: out of memory (cuMemAlloc of {size} on device {gpu})
XlaRuntimeError: RESOURCE_EXHAUSTED: Attempting to reserve {size} at the bottom of memory. That was not possible. There are {size} free, {size} reserved
Last state: Terminated  Reason: OOMKilled  Exit Code: 137
{prog}: page allocation failure: order:4, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), nodemask=(null)
Fatal glibc error: malloc.c:{line} (sysmalloc): assertion failed: not enough memory to extend the heap
py RuntimeError: HIP out of memory. Tried to allocate {size} (GPU {gpu}; 63.98 GiB total capacity)
py RuntimeError: MPS backend out of memory (MPS allocated: {size}, other allocations: {size}, max allowed: {size})
py RuntimeError: cuDNN error: CUDNN_STATUS_ALLOC_FAILED
bash: fork: Cannot allocate memory
java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory or process/resource limits reached
ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm).
Not enough GPU memory to load the model: {size} needed, {size} available
"""

BAD_CONFIG = """
nginx: [emerg] unknown directive "{key}" in /etc/nginx/conf.d/default.conf:{line}
nginx: [emerg] invalid number of arguments in "listen" directive in /etc/nginx/nginx.conf:{line}
nginx: [emerg] "server" directive is not allowed here in /etc/nginx/sites-enabled/app:{line} ⏎ nginx: configuration file /etc/nginx/nginx.conf test failed
nginx: [emerg] unexpected "}" in /etc/nginx/sites-enabled/api:{line}
Error: adapting config using caddyfile: {key}: unknown subdirective '{bad}', at /etc/caddy/Caddyfile:{line}
Error: loading initial config: decoding request body: invalid character '{bad}' looking for beginning of object key string
[ALERT] (1) : config : parsing [/etc/haproxy/haproxy.cfg:{line}] : unknown keyword '{key}' in 'backend' section
AH00526: Syntax error on line {line} of /etc/apache2/sites-enabled/000-default.conf: Invalid command '{key}', perhaps misspelled or defined by a module not included in the server configuration
py »yaml.scanner.ScannerError: mapping values are not allowed here ⏎   in "/etc/app/config.yaml", line {line}, column {col}
py yaml.parser.ParserError: while parsing a block mapping ⏎   in "{dir}/config.yaml", line {line}, column 1 ⏎ »expected <block end>, but found '-'
py json.decoder.JSONDecodeError: Expecting ',' delimiter: line {line} column {col} (char {big})
py tomllib.TOMLDecodeError: Invalid value (at line {line}, column {col})
py configparser.DuplicateOptionError: While reading from '/etc/app/app.ini' [line {line}]: option '{key}' in section 'server' already exists
py pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings ⏎ {key} ⏎   Input should be a valid integer, unable to parse string as an integer [type=int_parsing, input_value='{bad}', input_type=str]
py ValueError: invalid literal for int() with base 10: '{bad}' (while reading the environment variable {key})
py KeyError: 'required setting {key} is missing from {dir}/settings.toml'
error: unrecognized arguments: --{key}={bad}
error: argument --{key}: invalid int value: '{bad}'
{prog}: error: the following arguments are required: --model
error: invalid value '{bad}' for '--max-total-tokens <MAX_TOTAL_TOKENS>': invalid digit found in string
Error: unknown flag: --{key}
flag provided but not defined: -{key}
Usage: {prog} [OPTIONS] ⏎ Try '{prog} --help' for help. ⏎ Error: No such option: --{key}
invalid configuration: {key} must be between 0 and 1, got {bad}
FATAL:  configuration file "/etc/postgresql/16/main/postgresql.conf" contains errors
LOG:  unrecognized configuration parameter "{key}" in file "/etc/postgresql/16/main/postgresql.conf" line {line}
FATAL:  invalid value for parameter "shared_buffers": "{bad}"
»mysqld: [ERROR] unknown variable 'innodb_buffer_pol_size=8G'. ⏎ [ERROR] [MY-010119] [Server] Aborting
*** FATAL CONFIG FILE ERROR (Redis 7.2.4) *** ⏎ Reading the configuration file, at line {line} ⏎ >>> 'maxmemroy 2gb' ⏎ Bad directive or wrong number of arguments
/etc/systemd/system/{unit}.service:{line}: Unknown key name '{key}' in section 'Service', ignoring.
{unit}.service: Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services. Refusing.
{unit}.service: Failed to parse environment file /etc/default/{unit}, ignoring: Invalid argument
level=error msg="Error loading config (--config.file=/etc/prometheus/prometheus.yml)" err="parsing YAML file /etc/prometheus/prometheus.yml: yaml: unmarshal errors:\\n  line {line}: field {key} not found in type config.plain"
logger=settings t={ts} level=error msg="failed to parse \\"/etc/grafana/grafana.ini\\": key-value delimiter not found: {bad}"
Error: failed to load config file "/etc/app/config.toml": toml: line {line} (last key "{key}"): expected value but found "{bad}" instead
invalid config: unknown field `{key}`, expected one of `host`, `port`, `workers` at line {line} column {col}
Caused by: org.springframework.boot.context.properties.bind.BindException: Failed to bind properties under 'server.port' to java.lang.Integer
Exception in thread "main" java.lang.IllegalArgumentException: Could not resolve placeholder '{key}' in value "${{key}}"
ERROR: environment variable {key} is not set; refusing to start
ERROR: the setting "{key}" expects a [number|boolean|duration|path] but the configuration gives "{bad}"
[config] {dir}/config.yaml: line {line}: [did not find expected key|found character that cannot start any token|could not find expected ':']
config validation failed: [{key}: must not be empty|{key}: value {bad} out of range|missing required field {key}]
the [settings|options|config] file {dir}/{file} [has a syntax error|could not be parsed|is malformed] near line {line}
[{key}|tensor_parallel_size] = {bad} is not [a valid value|allowed|supported] for this option (check {dir}/config.yaml)
Invalid --{key} value "{bad}": [expected an integer|not one of auto, fp16, bf16|must be positive]
unsupported value for {key}: {bad}. Edit the unit's Environment= or the config file and try again.
[ERROR] Could not parse the model config: {key} is set twice with different values
envoy: error initializing configuration '/etc/envoy/envoy.yaml': Protobuf message (type envoy.config.bootstrap.v3.Bootstrap reason INVALID_ARGUMENT:{key}: Cannot find field.) has unknown fields
/etc/ssh/sshd_config: line {line}: Bad configuration option: {key} ⏎ »/etc/ssh/sshd_config: terminating, 1 bad configuration options
Error: .ini file does not include supervisord section
org.apache.kafka.common.config.ConfigException: Invalid value {bad} for configuration {key}: Not a number of type INT
services.{unit} Additional property {key} is not allowed
Error parsing config file {dir}/vector.toml: unknown variant `{bad}`, expected one of `json`, `text`
uwsgi: unrecognized option '--{key}'
E! [telegraf] Error running agent: error loading config file /etc/telegraf/telegraf.conf: line {line}: field corresponding to `{key}' is not defined
chronyd: Invalid command at line {line} in file /etc/chrony/chrony.conf
error: Found argument '--{key}' which wasn't expected, or isn't valid in this context
ValueError: Unknown quantization method: {bad}. Must be one of ['awq', 'gptq', 'fp8'].
The value of {key} in the Helm values is of the wrong type: expected int, got string "{bad}"
loading the settings failed: {key}: cannot unmarshal string into Go struct field Config.{key} of type int
Error: Invalid value for '--port': '{bad}' is not a valid integer.
{prog}: error: argument --lr: invalid float value: '{bad}'
py django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.
nginx: [emerg] no "events" section in configuration
{unit}.service: Invalid environment assignment, ignoring: {key}
yaml: line {line}: did not find expected key
Caddyfile:{line} - Error during parsing: Unknown directive '{key}'
SyntaxError: Unexpected token } in JSON at position {big} (reading {dir}/app.json)
refusing to start: tls.cert_file is set but tls.key_file is empty
"""

PERMISSION = """
py PermissionError: [Errno 13] Permission denied: '{path}'
py PermissionError: [Errno 1] Operation not permitted: '{dir}'
py OSError: [Errno 30] Read-only file system: '{dir}/{file}' (the unit's ProtectSystem= makes it read-only)
nginx: [emerg] open() "/var/log/nginx/access.log" failed (13: Permission denied)
nginx: [alert] could not open error log file: open() "/var/log/nginx/error.log" failed (13: Permission denied)
2026/04/02 10:00:00 [crit] {pid}#0: *1 open() "{dir}/index.html" failed (13: Permission denied), client: 10.0.0.7
Error: EACCES: permission denied, open '{path}'
Error: EPERM: operation not permitted, mkdir '{dir}'
open {path}: permission denied
mkdir {dir}: permission denied
listen tcp :{port}: bind: permission denied
failed to create listener: listen tcp 0.0.0.0:443: bind: permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)
Got permission denied while trying to connect to the Docker daemon socket at unix://{sock}
dial unix {sock}: connect: permission denied
java.nio.file.AccessDeniedException: {path}
java.io.FileNotFoundException: {path} (Permission denied)
FATAL:  could not open file "{dir}/postgresql.auto.conf": Permission denied
»FATAL:  data directory "/var/lib/postgresql/16/main" has invalid permissions ⏎ DETAIL:  Permissions should be u=rwx (0700) or u=rwx,g=rx (0750).
ERROR 1045 (28000): Access denied for user '{user}'@'localhost' (using password: YES)
ERROR 1142 (42000): SELECT command denied to user '{user}'@'10.0.0.4' for table 'events'
psycopg2.errors.InsufficientPrivilege: permission denied for table jobs
FATAL: password authentication failed for user "{user}"
{unit}.service: Failed to execute {dir}/run.sh: Permission denied ⏎ »{unit}.service: Failed at step EXEC spawning {dir}/run.sh: Permission denied
{unit}.service: Failed to set up mount namespacing: {dir}: Permission denied
{unit}.service: Failed at step STATE_DIRECTORY spawning {dir}/server: Operation not permitted
audit: type=1400 audit({big}.123:45): apparmor="DENIED" operation="open" profile="{prog}" name="{path}" pid={pid} comm="{prog}" requested_mask="r" denied_mask="r"
type=AVC msg=audit({big}.456:78): avc:  denied  { read write } for  pid={pid} comm="{prog}" name="{file}" scontext=system_u:system_r:httpd_t:s0 tcontext=unconfined_u:object_r:user_home_t:s0
failed to open {dev}: Permission denied
could not open device {dev}: operation not permitted (is the user in the video group?)
Failed to initialize NVML: Insufficient Permissions
cudaGetDeviceCount returned 100 -> no CUDA-capable device is detected (the process cannot open {dev}: permission denied)
[Errno 13] Permission denied: '{dir}/{file}'
{prog}: cannot create directory '{dir}': Permission denied
{prog}: can't open '{path}': Permission denied
sudo: {user} is not in the sudoers file. This incident will be reported.
Could not open lock file {dir}/lock - open (13: Permission denied)
redis: Can't open the log file: Permission denied
Fatal error: can't open config file "{dir}/{file}": Permission denied
PrivateKey: open /etc/ssl/private/server.key: permission denied
error: could not lock config file {dir}/.gitconfig: Permission denied
write {dir}/{file}: operation not permitted
{prog} must run as [root|the {user} user] to [open {dev}|bind to port 443|read {path}]; it runs as {user}
access to {path} [was refused|is not allowed] for uid 1000 ([mode 0600, owner root|no read permission|owned by another user])
the service account {user} [lacks permission to|may not|is not allowed to] [read|write|open] {path}
cannot [read|write|open] {file}: insufficient privileges
[not authorized|unauthorized|forbidden] to [access|write to|read] the [bucket|volume|registry|secret] {dir} (HTTP 403)
botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: Access Denied
ERROR: failed to open log directory {dir}: [EACCES|EPERM], check its owner and mode
chown: changing ownership of '{path}': Operation not permitted
mount: {dir}: must be superuser to use mount.
Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:ml:{user}" cannot list resource "pods" in API group "" in the namespace "ml"
google.api_core.exceptions.Forbidden: 403 GET https://storage.googleapis.com/storage/v1/b/ckpts/o: {user}@proj.iam.gserviceaccount.com does not have storage.objects.get access
An error occurred (AccessDeniedException) when calling the InvokeModel operation: User is not authorized to perform this action
su: Authentication failure
setfacl: {dir}: Operation not permitted
ERROR: could not open file "{dir}/pg_hba.conf" for reading: Permission denied
nvidia-container-cli: initialization error: open failed: {dev}: permission denied
[ERROR] Unable to create pid file {dir}/app.pid: access denied
ls: cannot open directory '{dir}': Permission denied
rsync: [receiver] mkstemp "{dir}/.{file}.XXXXXX" failed: Permission denied (13)
error: insufficient permission for adding an object to repository database .git/objects
Could not access KVM kernel module: Permission denied ⏎ »failed to initialize kvm: Permission denied
ORA-01031: insufficient privileges
ERROR:  permission denied for schema public
py sqlite3.OperationalError: attempt to write a readonly database
401 Unauthorized: the token for {user} was rejected by {host}
"""

PORT_IN_USE = """
py OSError: [Errno 98] Address already in use
py OSError: [Errno 98] error while attempting to bind on address ('0.0.0.0', {port}): address already in use
ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', {port}): [address already in use|Address already in use]
nginx: [emerg] bind() to 0.0.0.0:{port} failed (98: Address already in use)
nginx: [emerg] bind() to [::]:{port} failed (98: Address already in use) ⏎ nginx: [emerg] still could not bind()
listen tcp :{port}: bind: address already in use
Error: listen tcp 127.0.0.1:{port}: bind: address already in use
Error: listen EADDRINUSE: address already in use :::{port}
Error: listen EADDRINUSE 0.0.0.0:{port}
java.net.BindException: Address already in use
Caused by: java.net.BindException: Address already in use: bind
Web server failed to start. Port {port} was already in use.
»LOG:  could not bind IPv4 address "0.0.0.0": Address already in use ⏎ HINT:  Is another postmaster already running on port {port}? If not, wait a few seconds and retry. ⏎ WARNING:  could not create listen socket for "*"
»[ERROR] Can't start server: Bind on TCP/IP port: Address already in use ⏎ [ERROR] Do you already have another mysqld server running on port: 3306 ?
Could not create server TCP listening socket *:{port}: bind: Address already in use
Error: Io(Os { code: 98, kind: AddrInUse, message: "Address already in use" })
thread 'main' panicked at src/main.rs:{line}:{col}: ⏎ »failed to bind listener: Os { code: 98, kind: AddrInUse, message: "Address already in use" }
[W socket.cpp:{line}] [c10d] The server socket has failed to bind to [::]:29500 (errno: 98 - Address already in use).
py torch.distributed.DistNetworkError: The server socket has failed to listen on any local network address. port: 29500, useIpv6: false, code: -98, name: EADDRINUSE, message: address already in use
E{line} {ts} grpc_server_chttp2.cc:{line}] {"created":"@1700000000","description":"No address added out of total 1 resolved","children":[{"description":"Failed to add port to server","errno":98,"os_error":"Address already in use"}]}
Bind for 0.0.0.0:{port} failed: port is already allocated
docker: Error response from daemon: driver failed programming external connectivity on endpoint {unit}: Bind for 0.0.0.0:{port} failed: port is already allocated.
[ALERT] (1) : Starting frontend http-in: cannot bind socket (Address already in use) [0.0.0.0:{port}]
Couldn't listen on 0.0.0.0:{port}: [Errno 98] Address already in use.
OSError: [WinError 10048] Only one usage of each socket address (protocol/network address/port) is normally permitted
socket.error: [Errno 98] Address already in use (port {port})
Failed to start HTTP server on :{port}: another process ({prog}, pid {pid}) is already listening there
port {port} is [already in use|taken|occupied|busy] [by another process|by pid {pid}|, cannot start the listener]
Another instance is already running and listening on {port}; exiting
[the address|the socket address] 0.0.0.0:{port} is [still held|already bound] by [another program|pid {pid}|a previous instance]
cannot [listen on|bind to|open a listener on] [port {port}|:{port}|127.0.0.1:{port}]: [it is already bound|something else is listening there|the port is taken]
server startup failed: [{port}/tcp|tcp/{port}] already has a listener ({prog}[{pid}])
Error starting userland proxy: listen tcp4 0.0.0.0:{port}: bind: address already in use
failed to start the metrics endpoint: address 0.0.0.0:{port} in use
jupyter: The port {port} is already in use, trying another port. ⏎ »[C {ts} ServerApp] ERROR | No available port could be found (all ports from {port} busy)
ERROR: for {unit}  Cannot start service {unit}: driver failed programming external connectivity: Bind for 0.0.0.0:{port} failed: port is already allocated
[FATAL] Failed to start listener on 0.0.0.0:{port}: EADDRINUSE
Exception: Could not bind the gRPC server to [::]:{port}; is another server running?
ERR! listen EADDRINUSE: address already in use 127.0.0.1:{port}
java.io.IOException: Failed to bind to /0.0.0.0:{port} ⏎ »Caused by: java.net.BindException: Address already in use
zookeeper: Unable to bind to port {port}: java.net.BindException: Address in use
Starting ssh-agent failed: bind(): Address already in use
error: Bind to port 22 on 0.0.0.0 failed: Address already in use.
Port {port} is in use by another program. Either identify and stop that program, or start the server with a different port.
Something is already running on port {port}.
py OSError: [Errno 48] Address already in use
err="listen tcp 0.0.0.0:{port}: bind: address already in use"
"""
