package org.clustermd.cluster;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceOptions;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;

/**
 * A {@link DeviceLocator} over paths given as globs ({@code node --scan '/dev/disk/by-id/lun-*'}):
 * every regular file or block device a glob matches is opened read-only and its md superblock
 * compared with the array and device UUIDs asked for. Owns only its globs; opens nothing between
 * calls.
 *
 * <p>A glob's directory part is the path up to its first component with a glob character; the
 * rest is matched below it, as deep as it has components ({@code /dev/sd*} matches
 * {@code /dev/sda}, not {@code /dev/x/sda}).
 *
 * <p>Thread-safe: immutable.
 */
public final class GlobDeviceLocator implements DeviceLocator {
    private final List<String> globs;

    public GlobDeviceLocator(List<String> globs) {
        if (globs.isEmpty()) throw new IllegalArgumentException("at least one glob is required");
        this.globs = List.copyOf(globs);
    }

    public List<String> globs() {
        return globs;
    }

    @Override
    public Optional<Path> locate(UUID arrayUuid, UUID deviceUuid) throws IOException {
        for (String glob : globs) {
            for (Path p : expand(glob)) {
                if (matches(p, arrayUuid, deviceUuid)) return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** The existing paths {@code glob} names, sorted. */
    static List<Path> expand(String glob) throws IOException {
        Path whole = Path.of(glob);
        Path base = whole.isAbsolute() ? whole.getRoot() : Path.of("");
        int fixed = 0;
        while (fixed < whole.getNameCount() && !hasGlobChar(whole.getName(fixed).toString())) {
            base = base.resolve(whole.getName(fixed));
            fixed++;
        }
        if (fixed == whole.getNameCount()) return Files.exists(whole) ? List.of(whole) : List.of();
        if (!Files.isDirectory(base)) return List.of();
        PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + whole);
        int depth = whole.getNameCount() - fixed;
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(base, depth)) {
            s.filter(p -> p.getNameCount() == whole.getNameCount() && m.matches(p))
                    .sorted()
                    .forEach(out::add);
        }
        return out;
    }

    private static boolean hasGlobChar(String s) {
        return s.indexOf('*') >= 0 || s.indexOf('?') >= 0 || s.indexOf('[') >= 0 || s.indexOf('{') >= 0;
    }

    /** Whether {@code p} holds an md superblock of {@code array} with device UUID {@code device}; unreadable: no. */
    private static boolean matches(Path p, UUID array, UUID device) {
        if (Files.isDirectory(p)) return false;
        try (BlockDevice d = BlockDevices.open(p, BlockDeviceOptions.defaults().withReadOnly(true))) {
            Superblock sb = SuperblockCodec.read(d);
            return sb.setUuid().equals(array) && sb.deviceUuid().equals(device);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return "GlobDeviceLocator" + globs;
    }
}
