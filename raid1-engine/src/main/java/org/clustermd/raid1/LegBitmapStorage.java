package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.raid1.io.BlockDevice;

/**
 * The bitmap area of an array, kept on its legs as md keeps it ({@code write_sb_page},
 * {@code read_sb_page}): a page write goes to every leg that holds a role and is not faulty
 * (IN_SYNC and REBUILDING), a read comes from an IN_SYNC leg, lowest role first, never from a
 * leg still being recovered (docs/lessons.md §12: its pages may be stale), and a flush returns when every
 * such leg made the writes durable.
 *
 * <p>A leg that fails a write or flush is reported to the array (which fails it through a
 * superblock update; the report does not call back into the bitmap); the operation succeeds as
 * long as one IN_SYNC leg took it, else it throws and the bitmap refuses the writes that needed
 * it.
 *
 * <p>A leg that starts receiving bitmap writes (re-added or recovered) first gets a copy of the
 * area from an IN_SYNC leg, with page writes held off meanwhile
 * ({@link #admit(Leg, Runnable, long, Set)}): otherwise pages nobody rewrites later would keep
 * whatever the leg held before. In a cluster each node copies its own slot and the free ones,
 * never a live peer's.
 *
 * <p>Thread-safe: concurrent reads, writes and flushes; admissions exclude writes.
 */
final class LegBitmapStorage implements BitmapStorage {
    private final String name;
    private final long areaOffset;
    private final long areaSize;
    private final Supplier<MirrorSet> mirrors;
    private final BiConsumer<Mirror, IOException> legFailed;
    private final ReentrantReadWriteLock admission = new ReentrantReadWriteLock();

    /**
     * @param areaOffset byte offset of the area on every leg (super_offset + bitmap_offset)
     * @param areaSize bytes of the area, a multiple of 4096 (up to data_offset)
     */
    LegBitmapStorage(
            String name,
            long areaOffset,
            long areaSize,
            Supplier<MirrorSet> mirrors,
            BiConsumer<Mirror, IOException> legFailed) {
        if (areaOffset % BLOCK_SIZE != 0 || areaSize <= 0 || areaSize % BLOCK_SIZE != 0) {
            throw new IllegalArgumentException(
                    "bitmap area [" + areaOffset + ", +" + areaSize + ") is not 4 KiB-aligned");
        }
        this.name = name;
        this.areaOffset = areaOffset;
        this.areaSize = areaSize;
        this.mirrors = mirrors;
        this.legFailed = legFailed;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return areaSize;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        check(offset, dst.remaining());
        IOException last = null;
        for (Mirror m : mirrors.get().inSyncArray()) {
            try {
                m.leg().device.read(areaOffset + offset, dst);
                return;
            } catch (IOException e) {
                m.leg().errors.incrementAndGet();
                last = e;
            }
        }
        throw new IOException(
                name + ": no in-sync leg could read bitmap bytes [" + offset + ", +" + dst.remaining() + ")", last);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        check(offset, src.remaining());
        admission.readLock().lock();
        try {
            MirrorSet set = mirrors.get();
            Mirror[] targets = set.writeTargetArray();
            List<CompletableFuture<Void>> fs = new ArrayList<>(targets.length);
            for (Mirror m : targets) fs.add(m.leg().device.writeAsync(areaOffset + offset, src));
            settle("writing bitmap bytes [" + offset + ", +" + src.remaining() + ")", targets, fs);
        } finally {
            admission.readLock().unlock();
        }
    }

    @Override
    public void flush() throws IOException {
        Mirror[] targets = mirrors.get().writeTargetArray();
        List<CompletableFuture<Void>> fs = new ArrayList<>(targets.length);
        for (Mirror m : targets) fs.add(m.leg().device.flushAsync());
        settle("flushing the bitmap", targets, fs);
    }

    /** Waits for every leg; fails the legs that failed; throws unless an IN_SYNC leg succeeded. */
    private void settle(String what, Mirror[] targets, List<CompletableFuture<Void>> fs) throws IOException {
        boolean anyGood = false;
        IOException first = null;
        for (int i = 0; i < targets.length; i++) {
            try {
                BlockDevice.await(fs.get(i));
                if (targets[i].state() == MirrorState.IN_SYNC) anyGood = true;
            } catch (IOException e) {
                targets[i].leg().errors.incrementAndGet();
                if (first == null) first = e;
                legFailed.accept(targets[i], e);
            }
        }
        if (!anyGood) {
            throw new IOException(name + ": " + what + " succeeded on no in-sync leg", first);
        }
    }

    /**
     * Copies the area from an IN_SYNC leg to {@code leg}, then runs {@code makeTarget} (which
     * publishes the MirrorSet that makes the leg a write target), with this node's page writes
     * held off throughout, so the leg's copy of what this node writes is exactly the others'
     * from then on. The slots in {@code skipped} (each {@code stride} bytes) are not copied:
     * their owners are live peers, which write them and admit the leg for them themselves; a
     * copy from here could land after a peer's newer page and undo it (docs/lessons.md §44).
     */
    void admit(Leg leg, Runnable makeTarget, long stride, Set<Integer> skipped) throws IOException {
        admission.writeLock().lock();
        try {
            ByteBuffer area = BitmapStorage.allocate((int) areaSize);
            read(0, area);
            long from = 0;
            while (from < areaSize) {
                int slot = (int) (from / stride);
                long to = Math.min(areaSize, from + stride);
                if (!skipped.contains(slot)) {
                    leg.device.write(areaOffset + from, area.slice((int) from, (int) (to - from)));
                }
                from = to;
            }
            leg.device.flush();
            makeTarget.run();
        } finally {
            admission.writeLock().unlock();
        }
    }

    @Override
    public void close() {
        // the legs belong to the array
    }

    private void check(long offset, int length) {
        BitmapStorage.checkRange(name, offset, length, areaSize);
    }

    @Override
    public String toString() {
        return "LegBitmapStorage[" + name + " @" + areaOffset + ", " + areaSize + " bytes]";
    }
}
