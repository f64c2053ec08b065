package org.clustermd.cluster.nbd;

import io.netty.buffer.ByteBuf;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The byte layouts of the messages this server reads and writes: the greeting, option replies
 * and the information they carry, the NBD_OPT_EXPORT_NAME reply, request headers and simple
 * replies. Readers consume exactly one message from a buffer that holds it; writers append.
 *
 * <p>Stateless; thread-safe.
 */
final class NbdCodec {
    private NbdCodec() {}

    /** A request header as received; {@code length} is the unsigned 32-bit field. */
    record Request(int magic, int flags, int type, long handle, long offset, long length) {}

    /** The data of NBD_OPT_INFO or NBD_OPT_GO: the export name and the information types asked for. */
    record InfoRequest(String name, int[] infos) {
        boolean asks(int info) {
            for (int i : infos) if (i == info) return true;
            return false;
        }
    }

    /** The newstyle greeting: NBDMAGIC, IHAVEOPT, handshake flags FIXED_NEWSTYLE and NO_ZEROES. */
    static void writeGreeting(ByteBuf out) {
        out.writeLong(NbdProtocol.INIT_PASSWD);
        out.writeLong(NbdProtocol.OPTS_MAGIC);
        out.writeShort(NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES);
    }

    static void writeOptionReply(ByteBuf out, int option, int type, byte[] data) {
        out.writeLong(NbdProtocol.OPTION_REPLY_MAGIC);
        out.writeInt(option);
        out.writeInt(type);
        out.writeInt(data.length);
        out.writeBytes(data);
    }

    /** An error reply carrying a message for the user. */
    static void writeOptionError(ByteBuf out, int option, int type, String message) {
        writeOptionReply(out, option, type, utf8(message, NbdProtocol.MAX_STRING));
    }

    static void writeAck(ByteBuf out, int option) {
        writeOptionReply(out, option, NbdProtocol.REP_ACK, new byte[0]);
    }

    /** NBD_REP_SERVER for NBD_OPT_LIST: the name's length, then the name. */
    static void writeServer(ByteBuf out, int option, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        out.writeLong(NbdProtocol.OPTION_REPLY_MAGIC);
        out.writeInt(option);
        out.writeInt(NbdProtocol.REP_SERVER);
        out.writeInt(4 + n.length);
        out.writeInt(n.length);
        out.writeBytes(n);
    }

    /** NBD_REP_INFO with NBD_INFO_EXPORT: size and transmission flags. */
    static void writeInfoExport(ByteBuf out, int option, long size, int transmissionFlags) {
        writeInfoHeader(out, option, 12, NbdProtocol.INFO_EXPORT);
        out.writeLong(size);
        out.writeShort(transmissionFlags);
    }

    /** NBD_REP_INFO with NBD_INFO_BLOCK_SIZE: minimum, preferred and maximum payload. */
    static void writeInfoBlockSize(ByteBuf out, int option, int min, int preferred, int maxPayload) {
        writeInfoHeader(out, option, 14, NbdProtocol.INFO_BLOCK_SIZE);
        out.writeInt(min);
        out.writeInt(preferred);
        out.writeInt(maxPayload);
    }

    /** NBD_REP_INFO with a string information (NBD_INFO_NAME, NBD_INFO_DESCRIPTION). */
    static void writeInfoString(ByteBuf out, int option, int info, String value) {
        byte[] v = utf8(value, NbdProtocol.MAX_STRING);
        writeInfoHeader(out, option, 2 + v.length, info);
        out.writeBytes(v);
    }

    private static void writeInfoHeader(ByteBuf out, int option, int length, int info) {
        out.writeLong(NbdProtocol.OPTION_REPLY_MAGIC);
        out.writeInt(option);
        out.writeInt(NbdProtocol.REP_INFO);
        out.writeInt(length);
        out.writeShort(info);
    }

    /** The reply to NBD_OPT_EXPORT_NAME: size, transmission flags, and 124 zeroes unless NO_ZEROES was agreed. */
    static void writeExportNameReply(ByteBuf out, long size, int transmissionFlags, boolean zeroes) {
        out.writeLong(size);
        out.writeShort(transmissionFlags);
        if (zeroes) out.writeZero(NbdProtocol.EXPORT_NAME_ZEROES);
    }

    /** A simple reply header; a successful read's data follows it. */
    static void writeSimpleReply(ByteBuf out, NbdError error, long handle) {
        out.writeInt(NbdProtocol.SIMPLE_REPLY_MAGIC);
        out.writeInt(error == null ? 0 : error.code());
        out.writeLong(handle);
    }

    /** Reads a request header; the buffer must hold {@link NbdProtocol#REQUEST_HEADER} bytes. */
    static Request readRequest(ByteBuf in) {
        int magic = in.readInt();
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long handle = in.readLong();
        long offset = in.readLong();
        long length = in.readUnsignedInt();
        return new Request(magic, flags, type, handle, offset, length);
    }

    /**
     * Parses the data of NBD_OPT_INFO or NBD_OPT_GO (name length, name, count, info types);
     * null when the lengths do not add up or the name is not UTF-8 text without NUL.
     */
    static InfoRequest parseInfoRequest(ByteBuf data) {
        int total = data.readableBytes();
        if (total < 6) return null;
        long nameLength = data.readUnsignedInt();
        if (nameLength > total - 6 || nameLength > NbdProtocol.MAX_STRING) return null;
        String name = decodeName(data, (int) nameLength);
        if (name == null) return null;
        int count = data.readUnsignedShort();
        if (data.readableBytes() != 2 * count) return null;
        int[] infos = new int[count];
        for (int i = 0; i < count; i++) infos[i] = data.readUnsignedShort();
        return new InfoRequest(name, infos);
    }

    /** Reads {@code length} bytes as an export name; null when they are not UTF-8 or hold a NUL. */
    static String decodeName(ByteBuf data, int length) {
        byte[] raw = new byte[length];
        data.readBytes(raw);
        for (byte b : raw) if (b == 0) return null;
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(raw))
                    .toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** UTF-8 bytes of {@code s}, cut to at most {@code max} bytes at a character boundary. */
    static byte[] utf8(String s, int max) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= max) return b;
        int end = max;
        while (end > 0 && (b[end] & 0xc0) == 0x80) end--;
        byte[] cut = new byte[end];
        System.arraycopy(b, 0, cut, 0, end);
        return cut;
    }
}
