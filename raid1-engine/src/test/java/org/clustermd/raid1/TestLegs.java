package org.clustermd.raid1;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.CreateResult;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.raid1.verify.Verifier;

/**
 * Test fixture: leg files in a temp dir, created as an array, opened (optionally behind
 * fault-injecting devices) and assembled. Every array it assembles is closed by {@link #close()}.
 */
public final class TestLegs implements AutoCloseable {
    public final List<Path> paths = new ArrayList<>();
    private final List<Raid1Array> open = new ArrayList<>();
    public CreateResult created;
    /** The fault devices of the last {@link #assembleFaulty} call. */
    public List<FaultInjectingBlockDevice> faults = new ArrayList<>();

    public TestLegs(Path dir, int legs, long bytes) throws IOException {
        for (int i = 0; i < legs; i++) paths.add(file(dir.resolve("leg" + i), bytes));
    }

    public static Path file(Path f, long bytes) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(bytes);
        }
        return f;
    }

    public TestLegs create(CreateOptions options) throws IOException {
        created = ArrayCreator.create(options, paths);
        return this;
    }

    public List<BlockDevice> open() throws IOException {
        List<BlockDevice> out = new ArrayList<>();
        for (Path p : paths) out.add(BlockDevices.open(p));
        return out;
    }

    public Raid1Array assemble(ArrayOptions options) throws IOException {
        return track(Raid1Array.assemble(open(), options));
    }

    /** Assembles with every leg behind a {@link FaultInjectingBlockDevice} (see {@link #faults}). */
    public Raid1Array assembleFaulty(ArrayOptions options) throws IOException {
        faults = new ArrayList<>();
        for (BlockDevice d : open()) faults.add(new FaultInjectingBlockDevice(d));
        return track(Raid1Array.assemble(faults, options));
    }

    public Raid1Array track(Raid1Array a) {
        open.add(a);
        return a;
    }

    public BlockDevice openLeg(int i) throws IOException {
        return BlockDevices.open(paths.get(i));
    }

    public Verifier.LegComparison compare() throws IOException {
        return Verifier.compareLegs(paths);
    }

    @Override
    public void close() {
        for (Raid1Array c : open) c.close();
        open.clear();
    }
}
