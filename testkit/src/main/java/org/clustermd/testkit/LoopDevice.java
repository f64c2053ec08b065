package org.clustermd.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * One loop device over a backing file, attached with {@code losetup -f --show} and detached by
 * {@link #close}, so a test holds it in try-with-resources or releases it in its teardown.
 *
 * <p>Attaching needs root: a test run as another user is skipped (a JUnit assumption) with that
 * reason. As root, a failure to attach fails the test with losetup's message, never a skip.
 */
public final class LoopDevice implements AutoCloseable {
    private static final Duration LOSETUP_TIMEOUT = Duration.ofSeconds(30);

    private final Path device;
    private final Path backing;
    private boolean closed;

    private LoopDevice(Path device, Path backing) {
        this.device = device;
        this.backing = backing;
    }

    /** {@code losetup -f --show BACKING}. */
    public static LoopDevice attach(Path backing) throws IOException, InterruptedException {
        return attach(backing, 0, false);
    }

    /** {@code losetup -r -f --show BACKING}: a read-only loop device. */
    public static LoopDevice attachReadOnly(Path backing) throws IOException, InterruptedException {
        return attach(backing, 0, true);
    }

    /** {@code losetup -f --show --sector-size N BACKING}: a loop device with logical blocks of {@code sectorSize} bytes. */
    public static LoopDevice attach(Path backing, int sectorSize) throws IOException, InterruptedException {
        if (sectorSize <= 0) throw new IllegalArgumentException("sector size must be positive: " + sectorSize);
        return attach(backing, sectorSize, false);
    }

    private static LoopDevice attach(Path backing, int sectorSize, boolean readOnly)
            throws IOException, InterruptedException {
        Assumptions.assumeTrue(
                isRoot(), "loop devices need root: run the tests as root (bin/test) to include this one");
        List<String> cmd =
                new ArrayList<>(List.of(Tools.require("losetup", "mount").toString()));
        if (readOnly) cmd.add("-r");
        cmd.addAll(List.of("-f", "--show"));
        if (sectorSize > 0) cmd.addAll(List.of("--sector-size", String.valueOf(sectorSize)));
        cmd.add(backing.toString());
        Tools.Result r = Tools.exec(LOSETUP_TIMEOUT, null, cmd);
        String out = r.output().trim();
        if (r.exit() != 0 || !out.startsWith("/dev/loop")) {
            throw new AssertionError(String.join(" ", cmd) + " failed (exit " + r.exit() + "): " + out);
        }
        return new LoopDevice(Path.of(out), backing);
    }

    /** True when this JVM may attach loop devices (it runs as root); for a test that only adds a case when it can. */
    public static boolean available() throws IOException {
        return isRoot();
    }

    private static boolean isRoot() throws IOException {
        return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
    }

    /** The loop device, {@code /dev/loopN}. */
    public Path path() {
        return device;
    }

    /** The file the loop device reads and writes. */
    public Path backing() {
        return backing;
    }

    /** {@code losetup -d}; once only. A failure is printed, never thrown, so that the rest of a teardown still runs. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            Tools.Result r = Tools.exec(
                    LOSETUP_TIMEOUT,
                    null,
                    List.of(Tools.require("losetup", "mount").toString(), "-d", device.toString()));
            if (r.exit() != 0) System.err.println("losetup -d " + device + " failed: " + r.output());
        } catch (IOException | AssertionError e) {
            System.err.println("losetup -d " + device + " failed: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return device + " over " + backing;
    }
}
