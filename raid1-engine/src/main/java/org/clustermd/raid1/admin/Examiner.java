package org.clustermd.raid1.admin;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.clustermd.bitmap.BitmapArea;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.bitmap.SlotSummary;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceOptions;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.DeviceBitmapStorage;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;

/**
 * {@code clustermd examine LEG}: reads a leg's superblock and bitmap area without assembling
 * anything (mdadm {@code --examine} and {@code --examine-bitmap}).
 *
 * <p>Like mdadm, it reports what it finds rather than stopping at the first thing that is
 * wrong, once there is a superblock to report: a wrong sb_csum is printed as "expected X" next
 * to everything else, and a bitmap md would ignore or that is corrupt (its uuid is not the array's,
 * its sync_size beyond the data area, a slot's uuid or chunk size differs from slot 0's) is reported as
 * invalid with the reason, per slot where it is one slot. {@link ExamineReport#problems()} lists
 * them all. Without a superblock (no magic, a field md rejects) there is nothing to report and
 * it throws, naming the field.
 *
 * <p>Stateless and thread-safe.
 */
public final class Examiner {
    private Examiner() {}

    /**
     * Opens {@code leg} read-only and examines it.
     *
     * @throws org.clustermd.raid1.sb.SuperblockFormatException no superblock (names the field)
     * @throws IOException the leg cannot be opened or read
     */
    public static ExamineReport examine(Path leg) throws IOException {
        try (BlockDevice d =
                BlockDevices.open(leg, BlockDeviceOptions.defaults().withReadOnly(true))) {
            return examine(d);
        }
    }

    /** Examines an open leg. */
    public static ExamineReport examine(BlockDevice leg) throws IOException {
        ByteBuffer block = SuperblockCodec.readBlock(leg);
        long sectors = leg.size() / BlockDevice.SECTOR_SIZE;
        Superblock sb = SuperblockCodec.decodeIgnoringChecksum(leg.name(), block, sectors);
        int stored = SuperblockCodec.storedChecksum(block);
        int computed = SuperblockCodec.checksum(block);
        List<String> problems = new ArrayList<>();
        if (stored != computed) {
            problems.add(String.format(
                    "sb_csum %x does not match the computed %x: md will not use this superblock", stored, computed));
        }
        Optional<BitmapReport> bitmap = Optional.empty();
        if (sb.hasFeature(Superblock.FEATURE_BITMAP_OFFSET)) {
            try {
                BitmapReport b = bitmap(leg, sb);
                bitmap = Optional.of(b);
                if (b.problem() != null) problems.add("bitmap: " + b.problem());
                for (SlotReport s : b.slots()) {
                    if (s.problem() != null) problems.add("bitmap slot " + s.slot() + ": " + s.problem());
                }
            } catch (BitmapException e) {
                problems.add("bitmap: " + e.getMessage());
            }
        }
        return new ExamineReport(leg.name(), sb, bitmap, stored, computed, sectors, problems);
    }

    private static BitmapReport bitmap(BlockDevice leg, Superblock sb) throws IOException {
        BitmapArea area = BitmapArea.read(DeviceBitmapStorage.of(leg, sb));
        BitmapSuperblock first = area.superblock();
        String problem = null;
        if (!first.uuid().equals(sb.setUuid())) {
            problem = "uuid " + SuperblockCodec.mdadmUuid(first.uuid()) + " is not the array's "
                    + SuperblockCodec.mdadmUuid(sb.setUuid()) + ": md ignores this bitmap";
        } else if (Long.compareUnsigned(first.syncSize(), sb.dataSize()) > 0) {
            // not "!= size": a resize in progress legitimately differs, but never beyond the data area
            problem = "sync_size " + first.syncSize() + " sectors is more than the leg's data_size " + sb.dataSize()
                    + " sectors: corrupt";
        }
        boolean syncSizeWrong = Long.compareUnsigned(first.syncSize(), sb.dataSize()) > 0;
        List<SlotReport> slots = new ArrayList<>();
        // with a wrong sync_size the slots' places are wrong too: reading them would only report bad magic
        if (!syncSizeWrong) {
            for (int i = 0; i < area.slots(); i++) slots.add(slot(area, first, i));
        }
        return new BitmapReport(
                first.version(),
                first.uuid(),
                first.chunkSize(),
                first.syncSize(),
                first.daemonSleep(),
                first.writeBehind(),
                first.sectorsReserved(),
                first.nodes(),
                first.clusterName(),
                slots,
                problem);
    }

    private static SlotReport slot(BitmapArea area, BitmapSuperblock first, int i) {
        SlotSummary s;
        try {
            s = area.examine(i);
        } catch (BitmapException e) {
            return new SlotReport(i, null, 0, 0, 0, 0, 0, e.getMessage());
        }
        BitmapSuperblock b = s.superblock();
        String problem = null;
        if (!b.uuid().equals(first.uuid())) {
            problem = "uuid " + SuperblockCodec.mdadmUuid(b.uuid()) + " differs from slot 0's "
                    + SuperblockCodec.mdadmUuid(first.uuid());
        } else if (b.chunkSize() != first.chunkSize()) {
            problem = "chunksize " + b.chunkSize() + " differs from slot 0's " + first.chunkSize();
        }
        return new SlotReport(
                i, b.uuid(), b.events(), b.eventsCleared(), b.state(), s.chunks(), s.dirtyChunks(), problem);
    }
}
