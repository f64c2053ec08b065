package org.clustermd.raid1.io;

import java.nio.ByteBuffer;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.posix.FileStat;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;

/**
 * The system calls the block devices use, in one place: jnr-posix for open/close/fstat/
 * pread/pwrite/fdatasync, plus a jnr-ffi binding of libc's ioctl for the block device queries
 * jnr-posix lacks and of madvise for {@link HugePageBuffers}.
 *
 * <p>Stateless apart from the lazily loaded bindings; thread-safe (errno is per thread in jnr).
 */
final class NativeIo {
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_CLOEXEC = 02000000;
    /** On a block device without O_CREAT: open exclusively, EBUSY while mounted or held by md or device-mapper. */
    static final int O_EXCL = 0200;

    static final int EBUSY = 16;

    /** _IO(0x12,104): logical block size, int. */
    private static final long BLKSSZGET = 0x1268L;
    /** _IOR(0x12,114,size_t): device size in bytes, u64. */
    private static final long BLKGETSIZE64 = 0x80081272L;

    private static final int SEEK_END = 2;

    static final POSIX POSIX = POSIXFactory.getNativePOSIX();

    /** libc's ioctl with a pointer argument; ioctl is variadic but the x86_64 ABI passes it alike. */
    public interface LibC {
        int ioctl(int fd, long request, Pointer arg);

        /** The address as a raw 64-bit value, as the AIO binding passes its addresses. */
        int madvise(long address, long length, int advice);
    }

    private static volatile LibC libc;

    private NativeIo() {}

    /**
     * O_DIRECT is not in jnr-constants; its value is per architecture (asm-generic/fcntl.h vs the
     * arch overrides).
     */
    static int oDirect() {
        String arch = System.getProperty("os.arch", "");
        switch (arch) {
            case "amd64", "x86_64", "x86", "i386":
                return 040000;
            case "aarch64", "arm":
                return 0200000;
            default:
                throw new UnsupportedOperationException("O_DIRECT value unknown on " + arch);
        }
    }

    static boolean isNative() {
        return POSIX.isNative();
    }

    static int errno() {
        return POSIX.errno();
    }

    static String strerror(int errno) {
        return POSIX.strerror(errno) + " (errno " + errno + ")";
    }

    static int open(String path, int flags) {
        return POSIX.open(path, flags, 0);
    }

    static FileStat fstat(int fd) {
        return POSIX.fstat(fd);
    }

    static int close(int fd) {
        return POSIX.close(fd);
    }

    static long pread(int fd, ByteBuffer buf, long len, long offset) {
        return POSIX.pread(fd, buf, len, offset);
    }

    static long pwrite(int fd, ByteBuffer buf, long len, long offset) {
        return POSIX.pwrite(fd, buf, len, offset);
    }

    static int fdatasync(int fd) {
        return POSIX.fdatasync(fd);
    }

    /** Size of a block device in bytes: BLKGETSIZE64, else seeking to the end. */
    static long blockDeviceSize(int fd) {
        Runtime rt = Runtime.getSystemRuntime();
        Pointer p = Memory.allocateDirect(rt, 8);
        if (libc().ioctl(fd, BLKGETSIZE64, p) == 0) {
            return p.getLongLong(0);
        }
        return POSIX.lseekLong(fd, 0, SEEK_END);
    }

    /** Logical block size of a block device (BLKSSZGET), or -1 when the ioctl fails. */
    static int blockDeviceLogicalBlockSize(int fd) {
        Runtime rt = Runtime.getSystemRuntime();
        Pointer p = Memory.allocateDirect(rt, 4);
        if (libc().ioctl(fd, BLKSSZGET, p) == 0) {
            return p.getInt(0);
        }
        return -1;
    }

    /** madvise(2): 0, or -1 when the kernel refused the advice. */
    static int madvise(long address, long length, int advice) {
        return libc().madvise(address, length, advice);
    }

    private static LibC libc() {
        LibC l = libc;
        if (l == null) {
            synchronized (NativeIo.class) {
                l = libc;
                if (l == null) {
                    l = LibraryLoader.create(LibC.class).load("c");
                    libc = l;
                }
            }
        }
        return l;
    }
}
