package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The array's legs as raid1 sees them (md's {@code conf->mirrors} with {@code md_error}): it owns
 * the current {@link MirrorSet} and the lock that publishes a new one, the counts of legs failed
 * here and of those failures the superblocks record, and the bitmap area on the legs
 * ({@link LegBitmapStorage}) through which a leg is admitted as a bitmap target.
 *
 * <p>Publishing keeps the bitmap's degraded flag ahead of the set: a write target is lost only
 * after the bitmap knows, and gained before it forgets (docs/lessons.md §30). Every change is
 * reported to the array's listeners.
 *
 * <p>Thread-safe: {@link #current()} is one volatile read; publishing takes a short lock and does
 * no I/O.
 */
final class Mirrors {
    private static final Logger log = LoggerFactory.getLogger(Mirrors.class);

    private final String name;
    private final Supplier<WriteIntentBitmap> bitmap;
    private final BooleanSupplier fenced;
    private final Consumer<AttributeChange> notify;
    private final SyncControl sync;
    private final MetadataUpdater updater;
    private final Object lock = new Object();
    private volatile MirrorSet set;
    private volatile LegBitmapStorage bitmapStorage;
    /** Legs failed here so far, and how many of those the superblocks on the legs record. */
    private final AtomicLong failuresMarked = new AtomicLong();

    private final AtomicLong failuresRecorded = new AtomicLong();

    /**
     * @param bitmap the array's bitmap, null while it has none
     * @param fenced whether the array is fenced (it then fails no leg: it writes nothing more)
     * @param sync interrupted when a leg fails, and asked for the recovery that replaces it
     * @param updater records a failed leg on the remaining legs' superblocks
     */
    Mirrors(
            String name,
            MirrorSet initial,
            Supplier<WriteIntentBitmap> bitmap,
            BooleanSupplier fenced,
            Consumer<AttributeChange> notify,
            SyncControl sync,
            MetadataUpdater updater) {
        this.name = name;
        this.set = initial;
        this.bitmap = bitmap;
        this.fenced = fenced;
        this.notify = notify;
        this.sync = sync;
        this.updater = updater;
    }

    /** The current legs. */
    MirrorSet current() {
        return set;
    }

    /** The bitmap area on the legs, at {@code [areaOffset, +areaSize)} bytes of each. */
    LegBitmapStorage openBitmapStorage(long areaOffset, long areaSize) {
        LegBitmapStorage s =
                new LegBitmapStorage(name + " bitmap", areaOffset, areaSize, this::current, this::legFailed);
        bitmapStorage = s;
        return s;
    }

    /** Publishes a new MirrorSet (short lock, no I/O) and reports what changed. */
    MirrorSet publish(UnaryOperator<MirrorSet> change) {
        MirrorSet before;
        MirrorSet after;
        synchronized (lock) {
            before = set;
            after = change.apply(before);
            if (after == before) return before;
            WriteIntentBitmap b = bitmap.get();
            // lose a write target only after the bitmap knows (docs/lessons.md §30); gain one before it forgets
            if (b != null && after.missingRoles() > 0) b.setDegraded(true);
            set = after;
            if (b != null && after.missingRoles() == 0) b.setDegraded(false);
        }
        reportChanges(before, after);
        return after;
    }

    private void reportChanges(MirrorSet before, MirrorSet after) {
        Map<Integer, String> old = new HashMap<>();
        for (Mirror m : before.mirrors()) old.put(m.devNumber(), m.mdState());
        for (Mirror m : after.mirrors()) {
            String was = old.remove(m.devNumber());
            if (was == null) notify.accept(AttributeChange.device(m.name(), "", m.mdState()));
            else if (!was.equals(m.mdState())) notify.accept(AttributeChange.device(m.name(), was, m.mdState()));
        }
        for (Mirror m : before.mirrors()) {
            if (old.containsKey(m.devNumber()))
                notify.accept(AttributeChange.device(m.name(), old.get(m.devNumber()), "removed"));
        }
        if (before.degraded() != after.degraded()) {
            notify.accept(AttributeChange.array(AttributeChange.DEGRADED, before.degraded(), after.degraded()));
        }
    }

    /**
     * md_error for a leg: marks it FAULTY (never the last in-sync leg), interrupts a running
     * sync, and asks for the superblock update that records it.
     *
     * @return the future of that update, or null when the leg stays (last in-sync leg, or no
     *     longer a member)
     */
    CompletableFuture<Void> legFailed(Mirror m, IOException cause) {
        // a fenced array writes nothing more, so it records nothing; and a write the lease hold
        // never issued (NOT_ISSUED, only after the fence) says nothing about the leg
        if (fenced.getAsBoolean()) return null;
        if (cause instanceof BlockDeviceException b && b.code() == BlockDeviceException.Code.NOT_ISSUED) return null;
        Mirror now = set.byDevNumber(m.devNumber()).orElse(null);
        if (now == null || now.leg() != m.leg()) return null;
        if (now.state() != MirrorState.FAULTY) {
            boolean[] refused = {false};
            publish(s -> {
                Mirror cur = s.byDevNumber(m.devNumber()).orElse(null);
                if (cur == null || cur.state() == MirrorState.FAULTY) return s;
                if (cur.state() == MirrorState.IN_SYNC && s.inSyncArray().length == 1) {
                    refused[0] = true;
                    return s;
                }
                // counted before the set is published: a write that no longer reaches the leg sees it
                failuresMarked.incrementAndGet();
                return s.with(m.devNumber(), x -> x.withState(MirrorState.FAULTY, x.role()));
            });
            if (refused[0]) {
                log.error(
                        "{}: {} failed ({}) but it is the last in-sync leg: kept", name, m.name(), cause.getMessage());
                return null;
            }
            log.error(
                    "{}: {} failed: {}; continuing on {} legs",
                    name,
                    m.name(),
                    cause.getMessage(),
                    set.inSyncArray().length);
            sync.interruptForError();
            sync.requestRecovery();
        }
        return updater.request(m.name() + " failed");
    }

    /**
     * True while a leg failed here is not yet recorded as faulty on the remaining legs. A write
     * acknowledged meanwhile would exist only on legs the superblocks cannot yet tell apart from
     * the stale one (md blocks writes on MD_SB_CHANGE_PENDING for the same reason): completions
     * wait for the update that records it.
     */
    boolean failureUnrecorded() {
        return failuresRecorded.get() < failuresMarked.get();
    }

    long failuresMarked() {
        return failuresMarked.get();
    }

    /** A superblock update that began after {@code marked} failures succeeded. */
    void failuresRecorded(long marked) {
        failuresRecorded.accumulateAndGet(marked, Math::max);
    }

    /** A peer recorded the leg as faulty: fail it here without a superblock update of our own. */
    void markFaultyLocally(Mirror m, String why) {
        publish(s -> {
            Mirror cur = s.byDevNumber(m.devNumber()).orElse(null);
            if (cur == null || cur.state() == MirrorState.FAULTY) return s;
            return s.with(m.devNumber(), x -> x.withState(MirrorState.FAULTY, x.role()));
        });
        log.warn("{}: {} marked faulty: {}", name, m.name(), why);
        sync.interruptForError();
    }

    /**
     * Makes {@code leg} a bitmap target (the area copied first, but for the slots in
     * {@code peerSlots}, which their owners copy), publishing with {@code makeTarget}.
     */
    void admitToBitmap(Leg leg, Runnable makeTarget, Set<Integer> peerSlots) throws IOException {
        LegBitmapStorage s = bitmapStorage;
        WriteIntentBitmap b = bitmap.get();
        if (s == null || b == null) {
            makeTarget.run();
            return;
        }
        s.admit(leg, makeTarget, b.geometry().stride(), peerSlots);
    }

    /**
     * A device about to become a member of a clustered array gets every slot header of this
     * array's that an earlier life left on it cleared ({@link LegBitmapStorage#clearSlotHeaders});
     * nothing to do without a clustered bitmap.
     */
    void clearSlotHeaders(BlockDevice device, Function<ByteBuffer, LegBitmapStorage.SlotHeader> decode)
            throws Raid1Exception {
        LegBitmapStorage s = bitmapStorage;
        WriteIntentBitmap b = bitmap.get();
        if (s == null || b == null || b.geometry().slots() < 2) return;
        List<Integer> cleared;
        try {
            cleared = s.clearSlotHeaders(
                    device, b.geometry().stride(), b.geometry().slots(), decode);
        } catch (IOException e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.IO_ERROR,
                    name + ": clearing the bitmap slot headers on " + device.name() + " failed: " + e.getMessage(),
                    e);
        }
        if (!cleared.isEmpty()) {
            log.info(
                    "{}: bitmap slots {} of an earlier life cleared on {}: each is copied there when it is admitted",
                    name,
                    cleared,
                    device.name());
        }
    }

    /**
     * {@code slot}'s owner is gone and this node holds the slot's bitmap lock: the legs admitted
     * here while that owner lived get the slot now ({@link LegBitmapStorage#fillSkipped}).
     */
    void fillSkippedSlot(int slot) throws Raid1Exception {
        LegBitmapStorage s = bitmapStorage;
        if (s == null) return;
        List<String> filled;
        try {
            filled = s.fillSkipped(slot);
        } catch (IOException e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.IO_ERROR,
                    name + ": copying bitmap slot " + slot + " onto the legs that lack it failed: " + e.getMessage(),
                    e);
        }
        if (!filled.isEmpty()) {
            log.info(
                    "{}: bitmap slot {} copied onto {}: admitted while the slot's owner lived, which may never have copied it",
                    name,
                    slot,
                    filled);
        }
    }

    @Override
    public String toString() {
        return set.toString();
    }
}
