package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.clustermd.bitmap.BitmapGeometry;
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
 * never a live peer's. A peer may die before it copied its own: the storage remembers which slots
 * each leg it admitted was given without, reads those slots from another in-sync leg while it
 * can, and fills them in once their owner is gone ({@link #fillSkipped}, docs/lessons.md §57).
 * A node that did not see the admission learns the same gaps from the slots' headers at assembly
 * ({@link #learnGaps}, docs/lessons.md §57).
 *
 * <p>Thread-safe: concurrent reads, writes and flushes; admissions and fills exclude writes.
 */
final class LegBitmapStorage implements BitmapStorage {
    private final String name;
    private final long areaOffset;
    private final long areaSize;
    private final Supplier<MirrorSet> mirrors;
    private final BiConsumer<Mirror, IOException> legFailed;
    private final ReentrantReadWriteLock admission = new ReentrantReadWriteLock();
    /**
     * Per leg admitted here, the slots it was not given (their owners were live peers, which copy
     * them themselves, or no in-sync leg had them): changed under the admission write lock, read
     * by any reader. Sets are immutable.
     */
    private final Map<Leg, Set<Integer>> lacking = new ConcurrentHashMap<>();
    /** The slot stride of the admissions (fixed for a clustered area). */
    private volatile long stride;

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
        for (Mirror m : readOrder(offset, dst.remaining())) {
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

    /**
     * The in-sync legs, lowest role first, but a leg that may lack a slot of the range after every
     * leg that has them: it is read only when no other in-sync leg answers (then the slot's owner
     * is alive and admitted it itself, or what the slot held is lost with the other legs).
     */
    private Mirror[] readOrder(long offset, int length) {
        Mirror[] inSync = mirrors.get().inSyncArray();
        if (lacking.isEmpty() || length == 0) return inSync;
        int first = (int) (offset / stride);
        int last = (int) ((offset + length - 1) / stride);
        Mirror[] out = new Mirror[inSync.length];
        int i = 0;
        for (Mirror m : inSync) if (!lacksAny(m.leg(), first, last)) out[i++] = m;
        for (Mirror m : inSync) if (lacksAny(m.leg(), first, last)) out[i++] = m;
        return out;
    }

    private boolean lacksAny(Leg leg, int firstSlot, int lastSlot) {
        Set<Integer> slots = lacking.get(leg);
        if (slots == null) return false;
        for (int s : slots) if (s >= firstSlot && s <= lastSlot) return true;
        return false;
    }

    /** Whether some in-sync leg holds {@code slot} for sure. */
    private boolean held(int slot) {
        for (Mirror m : mirrors.get().inSyncArray()) if (!lacksAny(m.leg(), slot, slot)) return true;
        return false;
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
     * The leg is remembered as lacking them until {@link #fillSkipped} (docs/lessons.md §57).
     */
    void admit(Leg leg, Runnable makeTarget, long stride, Set<Integer> skipped) throws IOException {
        admission.writeLock().lock();
        try {
            this.stride = stride;
            ByteBuffer area = BitmapStorage.allocate((int) areaSize);
            Set<Integer> without = new TreeSet<>();
            long from = 0;
            while (from < areaSize) {
                int slot = (int) (from / stride);
                long to = Math.min(areaSize, from + stride);
                if (skipped.contains(slot)) {
                    without.add(slot);
                } else {
                    // slot by slot: each from a leg that holds it, if another leg lacks it
                    ByteBuffer part = area.slice((int) from, (int) (to - from));
                    read(from, part.duplicate());
                    leg.device.write(areaOffset + from, part);
                    if (!held(slot)) without.add(slot); // a copy of a gap is a gap
                }
                from = to;
            }
            leg.device.flush();
            forgetLegsGone();
            if (without.isEmpty()) lacking.remove(leg);
            else lacking.put(leg, Set.copyOf(without));
            makeTarget.run();
        } finally {
            admission.writeLock().unlock();
        }
    }

    /**
     * Zeroes the header page of each of {@code slots} slots ({@code stride} bytes apart) on
     * {@code device} that {@code decode} takes for a header of this array (null: not one), then
     * flushes, before the device becomes a member (added, or re-added after a failure or a
     * removal), while no node writes its bitmap there and before any peer hears of it. An earlier
     * life's header can be as new as the in-sync legs' while the bits under it are not, and a
     * slot whose owner dies before it copies it onto the leg would then pass for current at the
     * next assembly (docs/lessons.md §64). A zeroed header is a gap that {@link #learnGaps} sees;
     * every admission copies over it later, the peers' own included, since they hear of the
     * device only after this returned. Anything else (zeros, another array's) is a gap already
     * and is not written: a live peer's slot is written by that peer only (docs/lessons.md §44).
     *
     * @return the slots cleared
     */
    List<Integer> clearSlotHeaders(BlockDevice device, long stride, int slots, Function<ByteBuffer, SlotHeader> decode)
            throws IOException {
        ByteBuffer page = BitmapStorage.allocate(BitmapGeometry.PAGE_SIZE);
        ByteBuffer zeros = BitmapStorage.allocate(BitmapGeometry.PAGE_SIZE);
        List<Integer> cleared = new ArrayList<>();
        for (int slot = 0; slot < slots; slot++) {
            long at = areaOffset + slot * stride;
            if (slot * stride + BitmapGeometry.PAGE_SIZE > areaSize) break;
            device.read(at, page.clear());
            if (decode.apply(page.clear()) == null) continue;
            device.write(at, zeros.clear());
            cleared.add(slot);
        }
        if (!cleared.isEmpty()) device.flush();
        return cleared;
    }

    /** What a slot header says, as far as gaps go: the area's geometry and how new the slot is. */
    record SlotHeader(BitmapGeometry geometry, long events) {}

    /**
     * At assembly, before the area is read: learns from the legs which slots a write target lacks
     * (docs/lessons.md §57), as if this node had admitted it. {@code decode} reads a slot header
     * page (null when it is no header of this array). A target lacks a slot when its header does
     * not decode or is older (lower events) than the newest an in-sync leg holds: a leg admitted
     * while the slot's owner lived keeps there what it held before (zeros on a new device, an
     * earlier life's slot on a returning one) until the owner or its recovery copies the slot.
     * The geometry is the first in-sync leg's slot 0 that decodes; with none, nothing is learned
     * (reading the area then fails with the reason). Reads only, so it can run while peers write
     * their slots: a header read across a peer's page write may look older for a moment, which
     * costs a read from another leg and one copy by the slot's next holder, nothing else.
     *
     * @return per leg name, the slots it lacks (empty: no gap)
     */
    Map<String, Set<Integer>> learnGaps(Function<ByteBuffer, SlotHeader> decode) {
        admission.writeLock().lock();
        try {
            MirrorSet set = mirrors.get();
            BitmapGeometry g = null;
            for (Mirror m : set.inSyncArray()) {
                SlotHeader h = header(m, 0, decode);
                if (h != null) {
                    g = h.geometry();
                    break;
                }
            }
            if (g == null || g.slots() < 2 || g.stride() * g.slots() > areaSize) return Map.of();
            this.stride = g.stride();
            Map<String, Set<Integer>> found = new TreeMap<>();
            Mirror[] targets = set.writeTargetArray();
            for (int slot = 0; slot < g.slots(); slot++) {
                SlotHeader[] headers = new SlotHeader[targets.length];
                long newest = -1;
                for (int i = 0; i < targets.length; i++) {
                    headers[i] = header(targets[i], slot * g.stride(), decode);
                    if (headers[i] != null && targets[i].state() == MirrorState.IN_SYNC) {
                        newest = Math.max(newest, headers[i].events());
                    }
                }
                if (newest < 0) continue; // no in-sync leg holds it: nothing better to read it from
                for (int i = 0; i < targets.length; i++) {
                    if (headers[i] != null && headers[i].events() >= newest) continue;
                    Set<Integer> gaps = new TreeSet<>(lacking.getOrDefault(targets[i].leg(), Set.of()));
                    gaps.add(slot);
                    lacking.put(targets[i].leg(), Set.copyOf(gaps));
                    found.computeIfAbsent(targets[i].name(), k -> new TreeSet<>())
                            .add(slot);
                }
            }
            return found;
        } finally {
            admission.writeLock().unlock();
        }
    }

    /** {@code m}'s slot header at {@code offset}, decoded; null when it does not decode or cannot be read. */
    private SlotHeader header(Mirror m, long offset, Function<ByteBuffer, SlotHeader> decode) {
        ByteBuffer page = BitmapStorage.allocate(BitmapGeometry.PAGE_SIZE);
        try {
            m.leg().device.read(areaOffset + offset, page);
        } catch (IOException e) {
            m.leg().errors.incrementAndGet();
            return null; // not counted as holding it: read from elsewhere first, and rewritten by a fill
        }
        return decode.apply(page.clear());
    }

    /**
     * {@code slot}'s owner is gone and the caller holds the slot's bitmap lock, so nobody writes
     * the slot now: copies it from an in-sync leg that holds it onto every write target admitted
     * here without it (flushed), and forgets those gaps. The owner was alive when those legs were
     * admitted, so it was to copy its slot itself, and may have died first (docs/lessons.md §57).
     * A target that fails the write is reported failed, as a page write's would be.
     *
     * @return the names of the legs written (none when no leg lacked the slot)
     * @throws IOException when no in-sync leg that holds the slot could be read: the gaps stay
     */
    List<String> fillSkipped(int slot) throws IOException {
        if (lacking.isEmpty()) return List.of();
        admission.writeLock().lock();
        try {
            forgetLegsGone();
            MirrorSet set = mirrors.get();
            List<Mirror> targets = new ArrayList<>();
            for (Mirror m : set.writeTargetArray()) if (lacksAny(m.leg(), slot, slot)) targets.add(m);
            if (targets.isEmpty()) {
                forget(slot);
                return List.of();
            }
            long from = slot * stride;
            if (from >= areaSize) throw new IllegalArgumentException(name + ": no bitmap slot " + slot);
            ByteBuffer bytes = BitmapStorage.allocate((int) Math.min(stride, areaSize - from));
            readHolding(set, slot, from, bytes, targets);
            List<CompletableFuture<Void>> fs = new ArrayList<>(targets.size());
            for (Mirror m : targets)
                fs.add(m.leg()
                        .device
                        .writeAsync(areaOffset + from, bytes.duplicate().clear()));
            List<String> written = new ArrayList<>();
            for (int i = 0; i < targets.size(); i++) {
                Mirror m = targets.get(i);
                try {
                    BlockDevice.await(fs.get(i));
                    m.leg().device.flush();
                    written.add(m.name());
                } catch (IOException e) {
                    m.leg().errors.incrementAndGet();
                    legFailed.accept(m, e);
                }
            }
            forget(slot);
            return written;
        } finally {
            admission.writeLock().unlock();
        }
    }

    /** Reads {@code slot} into {@code dst} from the first in-sync leg that holds it. */
    private void readHolding(MirrorSet set, int slot, long from, ByteBuffer dst, List<Mirror> targets)
            throws IOException {
        IOException last = null;
        for (Mirror m : set.inSyncArray()) {
            if (lacksAny(m.leg(), slot, slot)) continue;
            try {
                m.leg().device.read(areaOffset + from, dst.clear());
                return;
            } catch (IOException e) {
                m.leg().errors.incrementAndGet();
                last = e;
            }
        }
        throw new IOException(
                name + ": no in-sync leg holding bitmap slot " + slot + " could be read to copy it onto "
                        + targets.stream().map(Mirror::name).toList(),
                last);
    }

    /** Under the admission write lock. */
    private void forget(int slot) {
        for (Map.Entry<Leg, Set<Integer>> e : lacking.entrySet()) {
            if (!e.getValue().contains(slot)) continue;
            Set<Integer> rest = new TreeSet<>(e.getValue());
            rest.remove(slot);
            if (rest.isEmpty()) lacking.remove(e.getKey());
            else lacking.put(e.getKey(), Set.copyOf(rest));
        }
    }

    /** Under the admission write lock: a leg that takes no bitmap writes is admitted afresh if it ever does again. */
    private void forgetLegsGone() {
        Set<Leg> targets = new HashSet<>();
        for (Mirror m : mirrors.get().writeTargetArray()) targets.add(m.leg());
        lacking.keySet().retainAll(targets);
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
