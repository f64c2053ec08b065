package org.clustermd.raid1.admin;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.clustermd.bitmap.BitmapArea;
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
 * <p>Stateless and thread-safe.
 */
public final class Examiner {
    private Examiner() {}

    /**
     * Opens {@code leg} read-only and examines it.
     *
     * @throws org.clustermd.raid1.sb.SuperblockFormatException no valid superblock (names the field)
     * @throws org.clustermd.bitmap.BitmapException a bitmap that md would reject (names the field)
     * @throws IOException the leg cannot be opened or read
     */
    public static ExamineReport examine(Path leg) throws IOException {
        try (BlockDevice d = BlockDevices.open(leg, BlockDeviceOptions.defaults().withReadOnly(true))) {
            return examine(d);
        }
    }

    /** Examines an open leg. */
    public static ExamineReport examine(BlockDevice leg) throws IOException {
        Superblock sb = SuperblockCodec.read(leg);
        if (!sb.hasFeature(Superblock.FEATURE_BITMAP_OFFSET)) {
            return new ExamineReport(leg.name(), sb, Optional.empty());
        }
        BitmapArea area = BitmapArea.read(DeviceBitmapStorage.of(leg, sb));
        BitmapSuperblock first = area.superblock();
        List<SlotReport> slots = new ArrayList<>();
        for (SlotSummary s : area.examineAll()) {
            BitmapSuperblock b = s.superblock();
            slots.add(new SlotReport(s.slot(), b.events(), b.eventsCleared(), b.state(), s.chunks(), s.dirtyChunks()));
        }
        return new ExamineReport(leg.name(), sb, Optional.of(new BitmapReport(first.version(), first.uuid(),
                first.chunkSize(), first.syncSize(), first.daemonSleep(), first.writeBehind(), first.sectorsReserved(),
                first.nodes(), first.clusterName(), slots)));
    }
}
