package org.clustermd.raid1.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Test helper: attaches and detaches loop devices with losetup (root only). */
public final class LoopDevices {
    private LoopDevices() {}

    /**
     * Attaches {@code backing} to a free loop device.
     *
     * @return the loop device path, or null with the reason printed when none can be attached
     */
    public static Path attach(Path backing) {
        try {
            Process p = new ProcessBuilder(List.of("losetup", "-f", "--show", backing.toString()))
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0 || !out.startsWith("/dev/loop")) {
                System.err.println("no loop device could be attached: " + out);
                return null;
            }
            Path dev = Path.of(out);
            return Files.exists(dev) ? dev : null;
        } catch (IOException e) {
            System.err.println("no loop device could be attached: " + e);
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Detaches {@code loop}; failures are printed, never thrown (teardown must go on). */
    public static void detach(Path loop) {
        if (loop == null) {
            return;
        }
        try {
            Process p = new ProcessBuilder(List.of("losetup", "-d", loop.toString())).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                System.err.println("losetup -d " + loop + " failed: " + out);
            }
        } catch (IOException e) {
            System.err.println("losetup -d " + loop + " failed: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
