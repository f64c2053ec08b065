package org.clustermd.raid1.admin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.clustermd.raid1.Raid1Exception;

/**
 * What a leg path really names, so that one device given twice is caught however it is
 * spelled: {@code l0 l0}, {@code l0 ./l0}, a symlink, or a file and a loop device over it. Two
 * paths are the same leg when their identities meet: a regular file is its (device, inode), a
 * block device its device number, a partition also its whole disk, and a loop device also
 * whatever its backing file is ({@code /sys/dev/block/MAJ:MIN/loop/backing_file}).
 *
 * <p>Writing one leg twice is how an array loses its second copy without anyone noticing: md's
 * own bind_rdev_to_array refuses a device it already holds, and this is the same rule for paths.
 *
 * <p>Immutable; thread-safe.
 *
 * @param path the path as given
 * @param keys every identity the path stands for ("file 8:1 inode 1234", "block 7:0", ...)
 * @param description how the path was understood, for messages
 */
public record LegIdentity(Path path, Set<String> keys, String description) {
    private static final int S_IFMT = 0170000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFREG = 0100000;
    /** Loop over loop over loop ...: a few levels are plenty, and a cycle cannot make us spin. */
    private static final int MAX_DEPTH = 8;

    public LegIdentity {
        keys = Set.copyOf(keys);
    }

    /**
     * The identity of {@code path}, or null when it cannot be stat'ed (opening it will then fail
     * with the reason).
     */
    public static LegIdentity of(Path path) {
        Set<String> keys = new LinkedHashSet<>();
        StringBuilder what = new StringBuilder();
        try {
            collect(path, keys, what, 0);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
        return new LegIdentity(path, keys, what.toString());
    }

    /**
     * Refuses a list of legs in which one device appears twice.
     *
     * @throws Raid1Exception INVALID naming both paths and what they share
     */
    public static void requireDistinct(List<Path> paths) throws Raid1Exception {
        List<LegIdentity> seen = new ArrayList<>();
        for (Path p : paths) {
            LegIdentity id = of(p);
            if (id == null) continue;
            for (LegIdentity earlier : seen) {
                for (String k : id.keys()) {
                    if (earlier.keys().contains(k)) {
                        throw new Raid1Exception(
                                Raid1Exception.Code.INVALID,
                                earlier.path() + " and " + p + " are the same leg (" + sameBecause(earlier, id, k)
                                        + "): give each device once");
                    }
                }
            }
            seen.add(id);
        }
    }

    private static String sameBecause(LegIdentity a, LegIdentity b, String key) {
        String da = a.description();
        String db = b.description();
        if (da.equals(db)) return "both are " + key;
        return a.path() + " is " + da + ", " + b.path() + " is " + db;
    }

    private static void collect(Path path, Set<String> keys, StringBuilder what, int depth) throws IOException {
        Map<String, Object> a = Files.readAttributes(path, "unix:dev,ino,rdev,mode");
        int mode = (Integer) a.get("mode");
        if ((mode & S_IFMT) == S_IFBLK) {
            long rdev = (Long) a.get("rdev");
            String dev = major(rdev) + ":" + minor(rdev);
            keys.add("block device " + dev);
            if (what.length() == 0) what.append("block device ").append(dev);
            Path sys = Path.of("/sys/dev/block", dev);
            String whole = wholeDisk(sys);
            if (whole != null) keys.add("block device " + whole);
            Path backing = sys.resolve("loop/backing_file");
            if (depth < MAX_DEPTH && Files.isReadable(backing)) {
                String file = Files.readString(backing, StandardCharsets.UTF_8).strip();
                if (file.endsWith(" (deleted)")) file = file.substring(0, file.length() - " (deleted)".length());
                what.append(", a loop device over ").append(file);
                try {
                    collect(Path.of(file), keys, new StringBuilder(), depth + 1);
                } catch (NoSuchFileException e) {
                    // a deleted backing file cannot be any other path given
                }
            }
        } else {
            long dev = (Long) a.get("dev");
            long ino = (Long) a.get("ino");
            String key =
                    ((mode & S_IFMT) == S_IFREG ? "file " : "inode ") + major(dev) + ":" + minor(dev) + " inode " + ino;
            keys.add(key);
            if (what.length() == 0) what.append(key);
        }
    }

    /** A partition's whole disk ("8:0" for 8:1), from sysfs; null for a whole disk or without sysfs. */
    private static String wholeDisk(Path sys) {
        try {
            if (!Files.exists(sys.resolve("partition"))) return null;
            Path parentDev = sys.toRealPath().getParent().resolve("dev");
            return Files.readString(parentDev, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return null;
        }
    }

    // Linux's dev_t encoding (gnu_dev_major / gnu_dev_minor)
    private static long major(long dev) {
        return ((dev >>> 8) & 0xfff) | ((dev >>> 32) & 0xfffff000L);
    }

    private static long minor(long dev) {
        return (dev & 0xff) | ((dev >>> 12) & 0xffffff00L);
    }
}
