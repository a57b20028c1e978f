# ruff: noqa: E501 (log lines are data; they keep their real length)
"""Cause lines for broken releases, bugs in the program's code, hardware faults, and
failures that nothing explains (the template language is described in causes_env.py)."""

BROKEN_RELEASE = """
py ModuleNotFoundError: No module named '{mod}'
py ImportError: cannot import name '{name}' from '{mod}' (/opt/venv/lib/python3.11/site-packages/{mod}/__init__.py)
py ImportError: {lib}: cannot open shared object file: No such file or directory
py ImportError: /opt/venv/lib/python3.11/site-packages/{mod}/_C.abi3.so: undefined symbol: {sym}
py OSError: {lib}: cannot open shared object file: No such file or directory
py ImportError: numpy.core.multiarray failed to import
py ImportError: A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.0 as it may crash.
py RuntimeError: Detected that PyTorch and torchvision were compiled with different CUDA major versions. PyTorch has CUDA Version=12.1 and torchvision has CUDA Version=11.8.
py RuntimeError: The NVIDIA driver on your system is too old (found version 11040). Please update your GPU driver
py pkg_resources.DistributionNotFound: The '{mod}>={ver}' distribution was not found and is required by the application
py importlib.metadata.PackageNotFoundError: No package metadata was found for {mod}
py AttributeError: partially initialized module '{mod}' has no attribute '{name}' (most likely due to a circular import)
py ImportError: libGL.so.1: cannot open shared object file: No such file or directory
{dir}/bin/server: error while loading shared libraries: {lib}: cannot open shared object file: No such file or directory
{prog}: symbol lookup error: /usr/lib/x86_64-linux-gnu/{lib}: undefined symbol: {sym}
{dir}/server: /lib/x86_64-linux-gnu/libc.so.6: version `{glibc}' not found (required by {dir}/server)
{prog}: /lib/x86_64-linux-gnu/libstdc++.so.6: version `{glibc}' not found (required by {dir}/lib/libcore.so)
{unit}.service: Failed to locate executable {dir}/bin/{prog}: No such file or directory ⏎ »{unit}.service: Failed at step EXEC spawning {dir}/bin/{prog}: No such file or directory
exec {dir}/entrypoint.sh: no such file or directory
{prog}: can't open file '{dir}/main.py': [Errno 2] No such file or directory
»Error: Cannot find module '{mod}' ⏎ Require stack: ⏎ - {dir}/server.js
Error [ERR_MODULE_NOT_FOUND]: Cannot find package '{mod}' imported from {dir}/index.mjs
Error: The module '{dir}/node_modules/bcrypt/lib/binding/bcrypt_lib.node' was compiled against a different Node.js version using NODE_MODULE_VERSION 108. This version of Node.js requires NODE_MODULE_VERSION 115.
Exception in thread "main" java.lang.NoClassDefFoundError: org/apache/commons/logging/LogFactory
Caused by: java.lang.ClassNotFoundException: com.example.server.Main
java.lang.NoSuchMethodError: 'void com.google.common.base.Preconditions.checkArgument(boolean, java.lang.String, java.lang.Object)'
java.lang.UnsupportedClassVersionError: com/example/App has been compiled by a more recent version of the Java Runtime (class file version 65.0), this version of the Java Runtime only recognizes class file versions up to 61.0
<internal:/usr/lib/ruby/3.2.0/rubygems/core_ext/kernel_require.rb>:{line}:in `require': cannot load such file -- {mod} (LoadError)
Could not find gem 'rails (~> 7.1)' in locally installed gems.
Can't locate JSON/XS.pm in @INC (you may need to install the JSON::XS module) (@INC contains: /etc/perl /usr/local/lib/x86_64-linux-gnu/perl/5.36.0)
PHP Fatal error:  Uncaught Error: Class "App\\Kernel" not found in {dir}/public/index.php:{line}
Fatal error: Failed to load the native TensorFlow runtime.
W tensorflow/compiler/xla/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library 'libnvinfer.so.8'; dlerror: libnvinfer.so.8: cannot open shared object file
Could not load library libcudnn_cnn_infer.so.8. Error: libcudnn_cnn_infer.so.8: cannot open shared object file: No such file or directory
CUDA driver version is insufficient for CUDA runtime version
undefined reference to `{sym}' at load time: the plugin {lib} does not match this build
plugin "{mod}" was built with a different version of package {mod} ({ver} vs {ver})
[the new release|version {ver}] [is missing|did not ship|lost] the [library|module|file] {lib}[; it cannot start|, startup aborted|]
failed to load [the extension|the native module|the plugin] {mod}: [its shared library is missing|the .so file is not there|undefined symbol {sym}]
startup failed after upgrade to {ver}: [module {mod} not found|{lib} not found|entry point {name} is gone]
the installed {mod} {ver} is incompatible with this build ([expects|requires|needs] {mod}>={ver}); import failed
dlopen({lib}) failed: [file not found|no such file|undefined symbol: {sym}]
python: can't open file '/opt/app/server.py': [Errno 2] No such file or directory (the package no longer ships it)
ld.so: object '{lib}' from LD_PRELOAD cannot be preloaded (cannot open shared object file): ignored. ⏎ »{prog}: error while loading shared libraries: {lib}: wrong ELF class: ELFCLASS32
exec /usr/local/bin/{prog}: exec format error
{unit}.service: Main process exited, code=exited, status=127/n/a ⏎ »{dir}/start.sh: line {line}: {prog}: command not found
ImportError: DLL load failed while importing _C: The specified module could not be found.
Error relocating {dir}/bin/app: {sym}: symbol not found
dyld[{pid}]: Library not loaded: @rpath/{lib}
/usr/bin/env: 'python3.12': No such file or directory
error: package `{mod} v{ver}` cannot be built because it requires rustc 1.80 or newer
Traceback shows the wheel for {mod} {ver} was built for a newer CUDA: {lib} is missing from this host
py ImportError: cannot import name 'soft_unicode' from 'markupsafe' (/opt/venv/lib/python3.11/site-packages/markupsafe/__init__.py)
ERROR: pip's dependency resolver does not currently take into account all the packages that are installed. ⏎ »{mod} {ver} requires {mod}<2.0, but you have {mod} {ver} which is incompatible.
/usr/bin/python3: No module named {mod}
py RuntimeError: Failed to import transformers.models.{mod} because of the following error (look up to see its traceback): No module named '{mod}'
Exception in thread "main" java.lang.UnsatisfiedLinkError: no {mod} in java.library.path
sh: 1: ./server: not found
"""

JOB_BUG = """
py TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'
py TypeError: {func}() missing 1 required positional argument: '{var}'
py TypeError: 'NoneType' object is not subscriptable
py TypeError: can only concatenate str (not "int") to str
py AttributeError: 'NoneType' object has no attribute '{var}'
py AttributeError: '{cls}' object has no attribute '{func}'
py KeyError: '{var}'
py IndexError: list index out of range
py IndexError: index {n} is out of bounds for dimension 0 with size {n}
py ValueError: too many values to unpack (expected 2)
py ValueError: Expected input batch_size ({n}) to match target batch_size ({n}).
py ZeroDivisionError: division by zero
py NameError: name '{var}' is not defined
py UnboundLocalError: cannot access local variable '{var}' where it is not associated with a value
py AssertionError: {var}.shape[0] == {var}.shape[0]
py AssertionError
py RecursionError: maximum recursion depth exceeded while calling a Python object
py NotImplementedError: {cls}.{func} is not implemented for this input
py RuntimeError: mat1 and mat2 shapes cannot be multiplied ({n}x{big} and {big}x{n})
py RuntimeError: Expected all tensors to be on the same device, but found at least two devices, cuda:{gpu} and cpu!
py RuntimeError: The size of tensor a ({n}) must match the size of tensor b ({n}) at non-singleton dimension 1
py RuntimeError: Error(s) in loading state_dict for {cls}: ⏎ »	size mismatch for lm_head.weight: copying a param with shape torch.Size([{big}, 4096]) from checkpoint, the shape in current model is torch.Size([{big}, 4096]).
py RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn
py »RuntimeError: CUDA error: device-side assert triggered ⏎ CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.
py RuntimeError: CUDA error: an illegal memory access was encountered
py json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0) (while decoding the response of {func})
py StopIteration
py FloatingPointError: Loss is NaN at step {step}, stopping training
../aten/src/ATen/native/cuda/IndexKernel.cu:{line}: operator(): block: [{n},0,0], thread: [{n},0,0] Assertion `-sizes[i] <= index && index < sizes[i] && "index out of bounds"` failed.
Segmentation fault (core dumped)
»Fatal Python error: Segmentation fault ⏎ Current thread 0x00007f{hex} (most recent call first):
{prog}[{pid}]: segfault at 0 ip 00007f{hex} sp 00007ff{hex} error 4 in {prog}[{hex}+1000]
*** Error in `{prog}': double free or corruption (fasttop): 0x00007f{hex} ***
»free(): invalid pointer ⏎ Aborted (core dumped)
{prog}: src/batch.cc:{line}: void Batch::push(int): Assertion `idx < capacity' failed.
Floating point exception (core dumped)
panic: runtime error: index out of range [{n}] with length {n}
panic: runtime error: invalid memory address or nil pointer dereference ⏎ [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x{hex}]
panic: assignment to entry in nil map
fatal error: concurrent map writes
thread 'main' panicked at src/{func}.rs:{line}:{col}: ⏎ »called `Option::unwrap()` on a `None` value
thread 'tokio-runtime-worker' panicked at 'attempt to subtract with overflow', src/queue.rs:{line}:{col}
Exception in thread "main" java.lang.NullPointerException: Cannot invoke "String.length()" because "{var}" is null
java.lang.ArrayIndexOutOfBoundsException: Index {n} out of bounds for length {n}
java.lang.ClassCastException: class java.lang.Integer cannot be cast to class java.lang.String
»java.util.ConcurrentModificationException ⏎ 	at java.base/java.util.ArrayList$Itr.checkForComodification(ArrayList.java:{line})
»TypeError: Cannot read properties of undefined (reading '{var}') ⏎     at {func} ({dir}/app.js:{line}:{col})
ReferenceError: {var} is not defined
RangeError: Maximum call stack size exceeded
Uncaught TypeError: {var}.map is not a function
NoMethodError: undefined method `[]' for nil:NilClass
Unhandled exception. System.NullReferenceException: Object reference not set to an instance of an object.
»ERROR: division by zero ⏎ CONTEXT:  PL/pgSQL function {func}() line {line} at assignment
loss became nan at step {step}; the gradient of {var} is inf
[bug] unexpected state in {func}: {var} is None after {cls} was initialised
[assertion failed|internal error|invariant violated]: {var} [must not be empty|has the wrong shape|out of range] in {func}
[shape mismatch|dimension mismatch] in {func}: got ({n}, {big}) but expected ({n}, {big})
unhandled exception in {func}: [index {n} past the end of {var}|{var} used before assignment|null {var} dereferenced]
{func} raised an exception that nobody caught: [wrong type for argument {var}|{var} has no field {key}|list index {n} out of range]
Traceback: KeyError raised in {func}: '{var}' was never added to the batch dict
Unhandled rejection TypeError: {var}.then is not a function
Exception in thread "worker-{n}" java.lang.IllegalStateException: {cls} already closed
thread '<unnamed>' panicked at 'index out of bounds: the len is {n} but the index is {n}', src/{func}.rs:{line}:{col}
*** stack smashing detected ***: terminated
terminate called after throwing an instance of 'std::out_of_range' ⏎   what():  vector::_M_range_check: __n (which is {n}) >= this->size() (which is {n})
Erlang: ** exception error: no match of right hand side value {error,badarg}
ZeroDivisionError: float division by zero
torch._dynamo.exc.Unsupported: call_function UserDefinedObjectVariable({cls}) [] {}
py RuntimeError: Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed).
py RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation
py RuntimeError: CUDA error: misaligned address
py ValueError: operands could not be broadcast together with shapes ({n},{n}) ({n},)
py KeyError: "['{var}'] not in index"
  File "{dir}/{func}.py", line {line} ⏎     if {var} = None: ⏎ »SyntaxError: invalid syntax
py IndentationError: unexpected indent
py UnicodeDecodeError: 'utf-8' codec can't decode byte 0x8b in position 1: invalid start byte
panic: runtime error: slice bounds out of range [:{n}] with capacity {n}
fatal error: all goroutines are asleep - deadlock!
==1234==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010
py RuntimeError: CUDA error: an illegal instruction was encountered
"""

HARDWARE = """
NVRM: Xid (PCI:{pci}): {xid}, pid={pid}, name={prog}, GPU has fallen off the bus.
NVRM: GPU at PCI:{pci}: GPU-{hex} has fallen off the bus.
NVRM: Xid (PCI:{pci}): 48, pid={pid}, name={prog}, An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at partition {n}, subpartition 0.
NVRM: Xid (PCI:{pci}): 63, pid={pid}, Row remapping pending: the GPU needs a reset to remap a failing row
NVRM: Xid (PCI:{pci}): 74, pid={pid}, NVLink: fatal error detected on link {n}(0x0, 0x0, 0x10000, 0x0, 0x0, 0x0, 0x0)
NVRM: Xid (PCI:{pci}): 119, pid={pid}, name={prog}, Timeout after 6s of waiting for RPC response from GPU{gpu} GSP!
NVRM: Xid (PCI:{pci}): 92, High single-bit ECC error rate
py RuntimeError: CUDA error: uncorrectable ECC error encountered
py RuntimeError: CUDA error: unknown error (the GPU {gpu} stopped answering; nvidia-smi shows ERR!)
py torch.cuda.CudaError: CUDA driver error: device not ready
py RuntimeError: CUDA error: GPU is lost
cudaErrorECCUncorrectable: uncorrectable ECC error encountered
CUDA_ERROR_ECC_UNCORRECTABLE: uncorrectable ECC error encountered on device {gpu}
Unable to determine the device handle for GPU {pci}: Unknown Error
Unable to determine the device handle for GPU{gpu}: {pci}: GPU is lost.  Reboot the system to recover this GPU
nvidia-smi: GPU {pci} ERR! (fan, power and temperature unreadable)
NCCL WARN NET/IB : mlx5_{gpu}:1 port down; link error count {n}
mlx5_core {pci}: mlx5_health_try_recover: PCI slot is unavailable, aborting recovery
kernel: pcieport {pci}: AER: Uncorrected (Fatal) error received: {pci}
kernel: pcieport {pci}: PCIe Bus Error: severity=Uncorrected (Fatal), type=Transaction Layer, (Receiver ID)
kernel: mce: [Hardware Error]: Machine check events logged
kernel: mce: [Hardware Error]: CPU {n}: Machine Check: 0 Bank 7: be00000000800090
kernel: EDAC MC{gpu}: 1 UE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x{hex})
kernel: EDAC sbridge MC0: HANDLING MCE MEMORY ERROR ⏎ »kernel: EDAC MC0: 1 UE memory scrubbing error on DIMM_B1
kernel: blk_update_request: I/O error, dev {disk}, sector {big} op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 0
kernel: Buffer I/O error on dev {disk}p1, logical block {big}, async page read
kernel: nvme nvme{gpu}: controller is down; will reset: CSTS=0xffffffff, PCI_STATUS=0xffff
kernel: nvme {pci}: Device not ready; aborting reset, CSTS=0x1
kernel: ata{gpu}.00: failed command: READ FPDMA QUEUED ⏎ »kernel: ata{gpu}.00: status: { DRDY ERR } error: { UNC }
kernel: XFS (md0): metadata I/O error in "xfs_trans_read_buf_map" at daddr 0x{hex} len 8 error 5
kernel: EXT4-fs error (device {disk}p2): ext4_find_entry:1455: inode #{big}: comm {prog}: reading directory lblock 0
kernel: mlx5_core {pci}: Port module event[error]: module 0, Cable error, High Temperature
kernel: CPU{gpu}: Core temperature above threshold, cpu clock throttled (total events = {big})
kernel: {prog}: Hardware Error: DIMM location CPU1_DIMM_C2: {n} uncorrectable errors
ipmi: PSU2 status: power supply failure detected
dcgm: XID {xid} detected on GPU {gpu}, health check FAILED: [Uncorrectable ECC error|NVLink down|PCIe replay rate high]
GPU {gpu} ({pci}): [double-bit ECC error|retired page limit reached|row remap failed], the device must be serviced
the GPU at {pci} [stopped responding|dropped off the PCIe bus|is no longer visible to the driver]; [all CUDA calls fail|a reboot is needed]
[HW|hardware] fault on [GPU {gpu}|the NIC mlx5_{gpu}|DIMM B{gpu}|nvme{gpu}]: [uncorrectable error|link training failed|device reset timed out]
I/O error reading block {big} of /dev/{disk}: [medium error|unrecovered read error], the disk is failing
smartd[{pid}]: Device: /dev/{disk} [SAT], {n} Currently unreadable (pending) sectors
fabricmanager: NVSwitch fatal error detected on switch {gpu}, port {n}; GPU partition unusable
kernel: amdgpu {pci}: amdgpu: GPU reset begin! ⏎ »kernel: amdgpu {pci}: amdgpu: ring gfx timeout, signaled seq={big}, emitted seq={big}
kernel: HBM: uncorrectable memory error detected on GPU {gpu}, page retirement pending
kernel: igb {pci} eth0: Reset adapter unexpectedly; hardware unit hang detected
kernel: sd 0:0:0:0: [sda] tag#{n} FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s ⏎ »kernel: sd 0:0:0:0: [sda] tag#{n} Sense Key : Medium Error [current]
ipmitool: Fan 3 | 0 RPM | Lower Critical going low, fan failed
nvidia-smi: Unable to determine the device handle for GPU {pci}: GPU requires reset
DCGM health: GPU {gpu} has {n} pending retired pages and a failed row remap; the device is unhealthy
py RuntimeError: CUDA error: uncorrectable NVLink error detected during the execution
CUDA_ERROR_HARDWARE_STACK_ERROR: hardware stack error on device {gpu}
megaraid_sas {pci}: FW in FAULT state, Fault code:0x10000 subcode:0x0
smartctl: SMART overall-health self-assessment test result: FAILED! Drive failure expected in less than 24 hours.
GPU-{hex}: ECC error count exceeds the threshold; GPU reset required
kernel: RAS: Corrected memory errors on DIMM A3 exceeded the threshold, the module is failing
"""

# Lines that end a failed run without saying why: with only these (and ordinary
# output), nothing in the log explains the failure.
UNEXPLAINED = """
{unit}.service: Main process exited, code=exited, status={code}/FAILURE
{unit}.service: Failed with result 'exit-code'.
{unit}.service: Main process exited, code=killed, status=15/TERM
Process exited with status {code}
process finished with exit code {code}
srun: error: {node}: task {rank}: Exited with exit code {code}
[{ts}] job {big} finished: state=FAILED exit={code}:0
{prog} exited with code {code}
command '{prog} serve' returned non-zero exit status {code}
ERROR: the worker stopped unexpectedly (exit status {code})
Shutting down
exiting
fatal: exiting after an error (see above)
Error: exit status {code}
the run did not complete
FAILED (errors=1)
"""
