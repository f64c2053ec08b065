package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The codec's byte layouts, the request check and the buffer pool, without a network. */
class NbdCodecTest {
    private static final int BLOCK = 4096;

    @Test
    void greetingAndRepliesHaveTheSpecsLayout() {
        ByteBuf b = Unpooled.buffer();
        NbdCodec.writeGreeting(b);
        assertThat(b.readableBytes()).isEqualTo(18);
        assertThat(b.readLong()).isEqualTo(0x4e42444d41474943L);
        assertThat(b.readLong()).isEqualTo(0x49484156454f5054L);
        assertThat(b.readShort()).isEqualTo((short) 3);

        NbdCodec.writeInfoBlockSize(b, NbdProtocol.OPT_GO, 512, 4096, 1 << 25);
        assertThat(b.readLong()).isEqualTo(0x3e889045565a9L);
        assertThat(b.readInt()).isEqualTo(7);
        assertThat(b.readInt()).isEqualTo(3);
        assertThat(b.readInt()).isEqualTo(14);
        assertThat(b.readShort()).isEqualTo((short) 3);
        assertThat(new int[] {b.readInt(), b.readInt(), b.readInt()}).containsExactly(512, 4096, 1 << 25);

        NbdCodec.writeExportNameReply(b, 1 << 20, Export.TRANSMISSION_FLAGS, true);
        assertThat(b.readableBytes()).isEqualTo(8 + 2 + 124);
        b.skipBytes(b.readableBytes());
        NbdCodec.writeExportNameReply(b, 1 << 20, Export.TRANSMISSION_FLAGS, false);
        assertThat(b.readableBytes()).isEqualTo(10);
        b.skipBytes(10);

        NbdCodec.writeSimpleReply(b, NbdError.ENOSPC, 0x0102030405060708L);
        assertThat(b.readInt()).isEqualTo(0x67446698);
        assertThat(b.readInt()).isEqualTo(28);
        assertThat(b.readLong()).isEqualTo(0x0102030405060708L);
        b.release();
    }

    @Test
    void requestHeaderFieldsAreUnsignedWhereTheSpecSaysSo() {
        ByteBuf b = Unpooled.buffer();
        b.writeInt(NbdProtocol.REQUEST_MAGIC)
                .writeShort(0x8001)
                .writeShort(0xffff)
                .writeLong(-2)
                .writeLong(-4096)
                .writeInt(-1);
        NbdCodec.Request r = NbdCodec.readRequest(b);
        assertThat(r)
                .isEqualTo(new NbdCodec.Request(NbdProtocol.REQUEST_MAGIC, 0x8001, 0xffff, -2, -4096, 0xffffffffL));
        b.release();
    }

    @Test
    void infoRequestsMustAddUp() {
        assertThat(parse(RawNbdClient.infoData("md0", 3, 1))).satisfies(r -> {
            assertThat(r.name()).isEqualTo("md0");
            assertThat(r.infos()).containsExactly(3, 1);
            assertThat(r.asks(1)).isTrue();
            assertThat(r.asks(2)).isFalse();
        });
        assertThat(parse(RawNbdClient.infoData(""))).isNotNull();
        assertThat(parse(new byte[5])).isNull();
        byte[] shortCount = RawNbdClient.infoData("md0", 3);
        ByteBuffer.wrap(shortCount).putShort(7, (short) 2);
        assertThat(parse(shortCount)).isNull();
        byte[] longName = RawNbdClient.infoData("md0");
        ByteBuffer.wrap(longName).putInt(0, -1);
        assertThat(parse(longName)).isNull();
        assertThat(parse(RawNbdClient.infoData("a\u0000b"))).isNull();
        byte[] notUtf8 = RawNbdClient.infoData("abc");
        notUtf8[4] = (byte) 0xc3;
        notUtf8[5] = (byte) 0x28;
        assertThat(parse(notUtf8)).isNull();
    }

    private static NbdCodec.InfoRequest parse(byte[] data) {
        return NbdCodec.parseInfoRequest(Unpooled.wrappedBuffer(data));
    }

    @Test
    void messagesAreCutAtACharacterBoundary() {
        String s = "é".repeat(3000); // 6000 bytes
        byte[] cut = NbdCodec.utf8(s, NbdProtocol.MAX_STRING);
        assertThat(cut.length).isEqualTo(4096);
        assertThat(new String(cut, StandardCharsets.UTF_8)).isEqualTo("é".repeat(2048));
        assertThat(NbdCodec.utf8("x" + "é".repeat(3000), 4096)).hasSize(4095);
    }

    @Test
    void theCheckFollowsTheSpecsErrors() {
        Export e = new Export(new RecordingTarget(1 << 20, BLOCK), 1 << 16);
        assertThat(e.check(NbdProtocol.CMD_READ, 0, 0, BLOCK)).isNull();
        assertThat(e.check(NbdProtocol.CMD_READ, NbdProtocol.CMD_FLAG_FUA, (1 << 20) - BLOCK, BLOCK))
                .isNull();
        assertThat(e.check(NbdProtocol.CMD_WRITE, 0, 0, 1 << 16)).isNull();
        assertThat(e.check(NbdProtocol.CMD_WRITE, 0, 0, (1 << 16) + BLOCK)).isEqualTo(NbdError.EINVAL);
        assertThat(e.check(NbdProtocol.CMD_TRIM, 0, 0, 1 << 20)).isNull(); // no payload: the maximum does not apply
        assertThat(e.check(NbdProtocol.CMD_WRITE, 0, 1 << 20, BLOCK)).isEqualTo(NbdError.ENOSPC);
        assertThat(e.check(NbdProtocol.CMD_WRITE, 0, Long.MAX_VALUE - BLOCK + 1, BLOCK))
                .isEqualTo(NbdError.ENOSPC);
        assertThat(e.check(NbdProtocol.CMD_READ, 0, -BLOCK, BLOCK)).isEqualTo(NbdError.EINVAL);
        assertThat(e.check(NbdProtocol.CMD_TRIM, 0, (1 << 20) - BLOCK, 2 * BLOCK))
                .isEqualTo(NbdError.EINVAL);
        assertThat(e.check(NbdProtocol.CMD_READ, 0, 512, BLOCK)).isEqualTo(NbdError.EINVAL);
        assertThat(e.check(NbdProtocol.CMD_WRITE, 0, 0, 512)).isEqualTo(NbdError.EINVAL);
        assertThat(e.check(NbdProtocol.CMD_READ, 0, 0, 0)).isEqualTo(NbdError.EINVAL);
        assertThat(e.check(NbdProtocol.CMD_READ, 1 << 2, 0, BLOCK)).isEqualTo(NbdError.EINVAL);
        assertThat(e.check(NbdProtocol.CMD_FLUSH, 0, 0, 0)).isNull();
        assertThat(e.check(NbdProtocol.CMD_FLUSH, 0, 0, 1)).isEqualTo(NbdError.EINVAL);
        assertThat(e.check(6, 0, 0, BLOCK)).isEqualTo(NbdError.EINVAL);
        assertThat(e.check(NbdProtocol.CMD_DISC + 100, 0, 0, 0)).isEqualTo(NbdError.EINVAL);
    }

    @Test
    void exportsWithAGeometryTheProtocolCannotCarryAreRefused() {
        assertThatThrownBy(() -> new Export(new RecordingTarget(1 << 20, 1000), 1 << 20))
                .hasMessageContaining("logical block size 1000");
        assertThatThrownBy(() -> new Export(new RecordingTarget((1 << 20) + 512, BLOCK), 1 << 20))
                .hasMessageContaining("not a multiple");
        assertThatThrownBy(() -> new Export(new RecordingTarget(1 << 20, BLOCK), 6000))
                .hasMessageContaining("maximum payload 6000");
    }

    @Test
    void poolHandsOutAlignedBuffersOfTheAskedLengthAndReusesThem() {
        BufferPool pool = new BufferPool(1 << 20, 4 << 20);
        ByteBuffer a = pool.acquire(5000);
        assertThat(a.isDirect()).isTrue();
        assertThat(a.alignmentOffset(0, 4096)).isZero();
        assertThat(a.position()).isZero();
        assertThat(a.limit()).isEqualTo(5000);
        assertThat(a.capacity()).isEqualTo(8192);
        pool.release(a);
        assertThat(pool.acquire(6000)).isSameAs(a);
        assertThat(pool.acquire(1 << 20).capacity()).isEqualTo(1 << 20);
        assertThat(pool.acquire(1).capacity()).isEqualTo(4096);
    }
}
