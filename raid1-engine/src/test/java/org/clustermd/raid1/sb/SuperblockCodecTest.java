package org.clustermd.raid1.sb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.SuperblockFormatException.Field;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SuperblockCodecTest {
    private static final String LEG = "/dev/test-leg";

    static LongStream seeds() {
        return LongStream.rangeClosed(1, 200);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void randomSuperblocksRoundTrip(long seed) throws Exception {
        Superblock sb = Superblocks.random(seed);
        ByteBuffer b = SuperblockCodec.encode(sb);
        assertThat(b.remaining()).isEqualTo(4096);
        Superblock back = SuperblockCodec.decode(LEG, b, Superblocks.deviceSectors(sb));
        assertThat(back).as("seed %d", seed).isEqualTo(sb);
        assertThat(SuperblockCodec.encode(back))
                .as("seed %d: re-encoding is byte-identical", seed)
                .isEqualTo(b);
        // everything after dev_roles is zero
        for (int i = sb.byteSize(); i < 4096; i++) {
            assertThat(b.get(i)).as("seed %d byte %d", seed, i).isZero();
        }
    }

    @Test
    void checksumIsTheKernelsFoldedWordSum() {
        Superblock sb = Superblocks.random(7).toBuilder()
                .maxDev(3)
                .devRoles(new int[] {0, 0xffff, 0xfffe})
                .raidDisks(1)
                .devNumber(0)
                .build();
        ByteBuffer b = SuperblockCodec.encode(sb).order(ByteOrder.LITTLE_ENDIAN);
        // independent reference: 256 + 6 bytes = 65 words + one trailing u16, csum as zero
        long sum = 0;
        for (int i = 0; i + 4 <= 262; i += 4) {
            sum += i == 216 ? 0 : Integer.toUnsignedLong(b.getInt(i));
        }
        sum += Short.toUnsignedLong(b.getShort(260));
        int expected = (int) ((sum & 0xffffffffL) + (sum >>> 32));
        assertThat(b.getInt(216)).isEqualTo(expected);
        assertThat(SuperblockCodec.checksum(b)).isEqualTo(expected);
    }

    @Test
    void uuidsAreStoredAsRawBytesInOrder() {
        Superblock sb = Superblocks.random(3);
        ByteBuffer b = SuperblockCodec.encode(sb);
        String hex = String.format(
                "%016x%016x",
                sb.setUuid().getMostSignificantBits(), sb.setUuid().getLeastSignificantBits());
        StringBuilder onDisk = new StringBuilder();
        for (int i = 16; i < 32; i++) {
            onDisk.append(String.format("%02x", b.get(i)));
        }
        assertThat(onDisk.toString()).isEqualTo(hex);
        assertThat(SuperblockCodec.mdadmUuid(sb.setUuid()))
                .isEqualTo(hex.substring(0, 8) + ":" + hex.substring(8, 16) + ":" + hex.substring(16, 24) + ":"
                        + hex.substring(24));
    }

    // ---- corrupt input: each validated field, the error names leg and field ---------------------

    private static Superblock base() throws Exception {
        DiskLayout l = DiskLayout.compute(LEG, 64L << 20, 4, 1 << 20);
        return Superblocks.raid1Member(l, 1, true);
    }

    private static long baseSectors() {
        return (64L << 20) / 512;
    }

    /** Corrupts the encoded block, re-seals the checksum unless told not to, and decodes. */
    private static void assertRejected(Field field, boolean reseal, Consumer<ByteBuffer> corrupt) throws Exception {
        ByteBuffer b = SuperblockCodec.encode(base()).order(ByteOrder.LITTLE_ENDIAN);
        corrupt.accept(b);
        if (reseal) {
            b.putInt(216, SuperblockCodec.checksum(b));
        }
        assertThatThrownBy(() -> SuperblockCodec.decode(LEG, b, baseSectors()))
                .isInstanceOfSatisfying(SuperblockFormatException.class, e -> {
                    assertThat(e.field()).isEqualTo(field);
                    assertThat(e.leg()).isEqualTo(LEG);
                })
                .hasMessageStartingWith(LEG + ": md superblock field " + field.mdName() + ": ");
    }

    private static void assertRejected(Field field, Consumer<ByteBuffer> corrupt) throws Exception {
        assertRejected(field, true, corrupt);
    }

    @Test
    void baseIsValid() throws Exception {
        assertThat(SuperblockCodec.decode(LEG, SuperblockCodec.encode(base()), baseSectors()))
                .isEqualTo(base());
    }

    @Test
    void badMagic() throws Exception {
        assertRejected(Field.MAGIC, false, b -> b.putInt(0, 0x6d746962));
        assertRejected(Field.MAGIC, false, b -> {
            for (int i = 0; i < 4096; i++) {
                b.put(i, (byte) 0);
            }
        });
    }

    @Test
    void badMajorVersion() throws Exception {
        assertRejected(Field.MAJOR_VERSION, b -> b.putInt(4, 0));
        assertRejected(Field.MAJOR_VERSION, b -> b.putInt(4, 2));
    }

    @Test
    void badMaxDev() throws Exception {
        assertRejected(Field.MAX_DEV, false, b -> b.putInt(220, 0));
        assertRejected(Field.MAX_DEV, false, b -> b.putInt(220, 1921));
        assertRejected(Field.MAX_DEV, false, b -> b.putInt(220, -1));
    }

    @Test
    void badChecksum() throws Exception {
        assertRejected(Field.SB_CSUM, false, b -> b.put(40, (byte) 'X'));
        assertRejected(Field.SB_CSUM, false, b -> b.putInt(216, b.getInt(216) + 1));
        // a change in dev_roles is covered too
        assertRejected(Field.SB_CSUM, false, b -> b.putShort(256, (short) 1));
    }

    @Test
    void nonZeroPadding() throws Exception {
        assertRejected(Field.PAD0, b -> b.putInt(12, 1));
        assertRejected(Field.PAD3, b -> b.put(255, (byte) 1));
    }

    @Test
    void unknownFeatureBits() throws Exception {
        assertRejected(Field.FEATURE_MAP, b -> b.putInt(8, b.getInt(8) | 0x2000));
    }

    @Test
    void wrongSuperOffset() throws Exception {
        assertRejected(Field.SUPER_OFFSET, b -> b.putLong(144, 0));
        assertRejected(Field.SUPER_OFFSET, b -> b.putLong(144, 16));
    }

    @Test
    void impossibleDataOffset() throws Exception {
        assertRejected(Field.DATA_OFFSET, b -> b.putLong(128, 8));
        assertRejected(Field.DATA_OFFSET, b -> b.putLong(128, baseSectors()));
    }

    @Test
    void impossibleDataSize() throws Exception {
        assertRejected(Field.DATA_SIZE, b -> b.putLong(136, 9));
        assertRejected(Field.DATA_SIZE, b -> b.putLong(136, b.getLong(136) + 1));
        assertThatThrownBy(() -> SuperblockCodec.decode(LEG, SuperblockCodec.encode(base()), baseSectors() - 8))
                .isInstanceOfSatisfying(
                        SuperblockFormatException.class,
                        e -> assertThat(e.field()).isEqualTo(Field.DATA_SIZE))
                .hasMessageContaining("device too small");
    }

    @Test
    void impossibleSize() throws Exception {
        assertRejected(Field.SIZE, b -> b.putLong(80, 0));
        assertRejected(Field.SIZE, b -> b.putLong(80, b.getLong(136) + 1));
    }

    @Test
    void bitmapOutsideTheMetadataArea() throws Exception {
        assertRejected(Field.BITMAP_OFFSET, b -> b.putInt(96, 0));
        assertRejected(Field.BITMAP_OFFSET, b -> b.putInt(96, -8));
        assertRejected(Field.BITMAP_OFFSET, b -> b.putInt(96, (int) b.getLong(128)));
    }

    @Test
    void badBlockLogOutsideTheMetadataArea() throws Exception {
        assertRejected(Field.BBLOG, b -> {
            b.putShort(186, (short) 8);
            b.putInt(188, -8);
        });
        assertRejected(Field.BBLOG, b -> {
            b.putShort(186, (short) 8);
            b.putInt(188, (int) b.getLong(128));
        });
    }

    @Test
    void recoveryOffsetBeyondSize() throws Exception {
        assertRejected(Field.RECOVERY_OFFSET, b -> {
            b.putInt(8, b.getInt(8) | Superblock.FEATURE_RECOVERY_OFFSET);
            b.putLong(152, b.getLong(80) + 1);
        });
    }

    @Test
    void resyncOffsetBeyondSize() throws Exception {
        assertRejected(Field.RESYNC_OFFSET, b -> b.putLong(208, b.getLong(80) + 1));
    }

    @Test
    void devNumberWithoutRole() throws Exception {
        assertRejected(Field.DEV_NUMBER, b -> b.putInt(160, b.getInt(220)));
    }

    @Test
    void impossibleRaidDisks() throws Exception {
        assertRejected(Field.RAID_DISKS, b -> b.putInt(92, 0));
        assertRejected(Field.RAID_DISKS, b -> b.putInt(92, b.getInt(220) + 1));
    }

    @Test
    void impossibleDevRoles() throws Exception {
        assertRejected(Field.DEV_ROLES, b -> b.putShort(256 + 4, (short) 2)); // slot 2 of 2 disks
        assertRejected(Field.DEV_ROLES, b -> {
            b.putShort(256 + 4, (short) 1);
            b.putShort(256 + 6, (short) 1); // slot 1 held three times
        });
    }

    @Test
    void badSetName() throws Exception {
        assertRejected(Field.SET_NAME, b -> b.put(32 + 31, (byte) 'x')); // garbage after the NUL
        assertRejected(Field.SET_NAME, b -> {
            b.put(32, (byte) 0xC3);
            b.put(33, (byte) 0x28);
        });
    }

    // ---- on a device ------------------------------------------------------------------------------

    @TempDir
    Path dir;

    private BlockDevice leg(long bytes) throws Exception {
        Path f = dir.resolve("leg" + bytes);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(bytes);
        }
        return BlockDevices.open(f);
    }

    @Test
    void writeThenReadOnALeg() throws Exception {
        try (BlockDevice leg = leg(64L << 20)) {
            Superblock sb = base();
            SuperblockCodec.write(leg, sb);
            assertThat(SuperblockCodec.read(leg)).isEqualTo(sb);
        }
    }

    @Test
    void blankLegHasNoSuperblock() throws Exception {
        try (BlockDevice leg = leg(1L << 20)) {
            assertThatThrownBy(() -> SuperblockCodec.read(leg))
                    .isInstanceOfSatisfying(
                            SuperblockFormatException.class,
                            e -> assertThat(e.field()).isEqualTo(Field.MAGIC))
                    .hasMessageContaining(leg.name());
        }
    }

    @Test
    void writeRefusesASuperblockThatDoesNotFitTheLeg() throws Exception {
        try (BlockDevice leg = leg(32L << 20)) {
            assertThatThrownBy(() -> SuperblockCodec.write(leg, base()))
                    .isInstanceOfSatisfying(
                            SuperblockFormatException.class,
                            e -> assertThat(e.field()).isEqualTo(Field.DATA_SIZE))
                    .hasMessageContaining("device too small");
        }
    }

    @Test
    void tinyLegIsRefusedClearly() throws Exception {
        try (BlockDevice leg = leg(4096)) {
            assertThatThrownBy(() -> SuperblockCodec.read(leg))
                    .isInstanceOfSatisfying(
                            SuperblockFormatException.class,
                            e -> assertThat(e.field()).isEqualTo(Field.DEVICE))
                    .hasMessageContaining("too small");
        }
    }
}
