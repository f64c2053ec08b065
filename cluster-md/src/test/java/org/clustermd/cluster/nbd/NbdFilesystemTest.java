package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.clustermd.testkit.LoopDevice;
import org.clustermd.testkit.Timing;
import org.clustermd.testkit.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The end-to-end proof a storage user trusts: an ext4 filesystem on the array, through the NBD
 * export, nbdfuse (the export as a file) and a loop device. The tree written is checked with
 * fsck and checksums after the array was stopped and assembled again from its legs.
 */
class NbdFilesystemTest {
    private static final long SIZE = 128L << 20;

    @TempDir
    Path dir;

    @Test
    void ext4OnTheExportSurvivesUnmountFsckAndReassembly() throws Exception {
        Tools.require("nbdfuse", "nbdfuse");
        Tools.require("fusermount3", "fuse3");
        Tools.require("losetup", "mount");
        Tools.require("mkfs.ext4", "e2fsprogs");
        Tools.require("fsck.ext4", "e2fsprogs");
        Path fuse = Files.createDirectories(dir.resolve("fuse"));
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Map<String, String> written;
        try (TestExport x = TestExport.start(dir, 2, SIZE)) {
            try (Mounted m = Mounted.attach(x, fuse, dir.resolve("nbdfuse.pid"))) {
                Tools.runWithin(
                        Duration.ofSeconds(120),
                        null,
                        "mkfs.ext4",
                        "-q",
                        "-F",
                        m.loop.path().toString());
                Tools.runWithin(
                        Duration.ofSeconds(60), null, "mount", m.loop.path().toString(), mnt.toString());
                m.mountPoint = mnt;
                writeTree(mnt, new Random(1234));
                written = checksums(mnt);
                m.unmount();
            }
            x.restart();
            try (Mounted m = Mounted.attach(x, fuse, dir.resolve("nbdfuse2.pid"))) {
                String fsck = Tools.runWithin(
                        Duration.ofSeconds(120),
                        null,
                        "fsck.ext4",
                        "-fn",
                        m.loop.path().toString());
                assertThat(fsck).doesNotContainIgnoringCase("error").doesNotContain("UNEXPECTED INCONSISTENCY");
                Tools.runWithin(
                        Duration.ofSeconds(60),
                        null,
                        "mount",
                        "-o",
                        "ro",
                        m.loop.path().toString(),
                        mnt.toString());
                m.mountPoint = mnt;
                assertThat(checksums(mnt)).isEqualTo(written);
                m.unmount();
            }
        }
        assertThat(written).hasSizeGreaterThan(100);
    }

    /** 20 directories of 8 files from 1 byte to 300 KiB, and one 16 MiB file. */
    private static void writeTree(Path root, Random rnd) throws IOException {
        for (int d = 0; d < 20; d++) {
            Path sub = Files.createDirectories(root.resolve("dir" + d).resolve("sub" + d % 3));
            for (int f = 0; f < 8; f++) {
                byte[] data = new byte[1 + rnd.nextInt(300 << 10)];
                rnd.nextBytes(data);
                Files.write(sub.resolve("file" + f + ".bin"), data);
            }
        }
        byte[] big = new byte[16 << 20];
        rnd.nextBytes(big);
        Files.write(root.resolve("big.bin"), big);
    }

    private static Map<String, String> checksums(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).toList())
                out.put(root.relativize(p).toString(), TestExport.sha256(p));
        }
        return out;
    }

    /** nbdfuse exposing the export as a file, a loop device on it, and perhaps a filesystem mounted: undone in close. */
    private static final class Mounted implements AutoCloseable {
        final Path fuseDir;
        final Process nbdfuse;
        LoopDevice loop;
        Path mountPoint;

        private Mounted(Path fuseDir, Process nbdfuse) {
            this.fuseDir = fuseDir;
            this.nbdfuse = nbdfuse;
        }

        static Mounted attach(TestExport x, Path fuseDir, Path pidFile) throws IOException, InterruptedException {
            Process p = new ProcessBuilder(
                            "nbdfuse",
                            "-P",
                            pidFile.toString(),
                            fuseDir.resolve("disk").toString(),
                            x.uri())
                    .redirectErrorStream(true)
                    .redirectOutput(fuseDir.resolveSibling(pidFile.getFileName() + ".log")
                            .toFile())
                    .start();
            Mounted m = new Mounted(fuseDir, p);
            try {
                long deadline = System.nanoTime() + Timing.seconds(30).toNanos();
                while (!Files.exists(pidFile)) {
                    assertThat(p.isAlive())
                            .as(
                                    "nbdfuse exited early with %s: %s",
                                    p.isAlive() ? "-" : p.exitValue(),
                                    Files.exists(fuseDir.resolveSibling(pidFile.getFileName() + ".log"))
                                            ? Files.readString(fuseDir.resolveSibling(pidFile.getFileName() + ".log"))
                                            : "")
                            .isTrue();
                    assertThat(System.nanoTime())
                            .as("nbdfuse did not write its pid file within 30 s")
                            .isLessThan(deadline);
                    Thread.sleep(50);
                }
                // the loop device's sector is the export's minimum block: nbdfuse passes requests through as they come,
                // and the export refuses (EINVAL) anything not aligned to the array's logical block size
                m.loop = LoopDevice.attach(fuseDir.resolve("disk"), x.array.logicalBlockSize());
                return m;
            } catch (IOException | InterruptedException | RuntimeException | AssertionError e) {
                m.close();
                throw e;
            }
        }

        void unmount() throws IOException, InterruptedException {
            if (mountPoint != null) {
                Tools.runWithin(Duration.ofSeconds(60), null, "umount", mountPoint.toString());
                mountPoint = null;
            }
        }

        @Override
        public void close() throws IOException, InterruptedException {
            try {
                if (mountPoint != null)
                    Tools.exec(Duration.ofSeconds(60), null, List.of("umount", "-l", mountPoint.toString()));
                mountPoint = null;
                if (loop != null) loop.close();
                loop = null;
                Tools.exec(Duration.ofSeconds(60), null, List.of("fusermount3", "-u", fuseDir.toString()));
            } finally {
                if (!nbdfuse.waitFor(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS)) {
                    nbdfuse.destroyForcibly().waitFor(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
                    Tools.exec(Duration.ofSeconds(60), null, List.of("fusermount3", "-uz", fuseDir.toString()));
                }
            }
        }
    }
}
