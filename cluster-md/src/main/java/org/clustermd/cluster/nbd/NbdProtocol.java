package org.clustermd.cluster.nbd;

/**
 * The numbers of the NBD protocol this server speaks (NetworkBlockDevice/nbd {@code doc/proto.md}):
 * the fixed newstyle handshake, the options and option replies, the information types of
 * {@code NBD_OPT_INFO}/{@code NBD_OPT_GO}, and the transmission phase's requests and simple
 * replies. Every number is sent in network byte order.
 *
 * <p>Constants only.
 */
final class NbdProtocol {
    private NbdProtocol() {}

    /** "NBDMAGIC", the first 8 bytes the server sends. */
    static final long INIT_PASSWD = 0x4e42444d41474943L;
    /** "IHAVEOPT": the newstyle greeting's second magic, and the prefix of every option. */
    static final long OPTS_MAGIC = 0x49484156454f5054L;
    /** Prefix of every option reply. */
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;

    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;

    // handshake flags (server) and client flags
    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 1 << 1;
    static final int FLAG_C_FIXED_NEWSTYLE = 1;
    static final int FLAG_C_NO_ZEROES = 1 << 1;

    // transmission flags
    static final int FLAG_HAS_FLAGS = 1;
    static final int FLAG_READ_ONLY = 1 << 1;
    static final int FLAG_SEND_FLUSH = 1 << 2;
    static final int FLAG_SEND_FUA = 1 << 3;
    static final int FLAG_SEND_TRIM = 1 << 5;
    static final int FLAG_CAN_MULTI_CONN = 1 << 8;

    // options
    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_LIST = 3;
    static final int OPT_STARTTLS = 5;
    static final int OPT_INFO = 6;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;

    // option reply types
    static final int REP_ACK = 1;
    static final int REP_SERVER = 2;
    static final int REP_INFO = 3;
    static final int REP_ERR_UNSUP = 0x80000001;
    static final int REP_ERR_POLICY = 0x80000002;
    static final int REP_ERR_INVALID = 0x80000003;
    static final int REP_ERR_UNKNOWN = 0x80000006;
    static final int REP_ERR_TOO_BIG = 0x80000009;

    // information types
    static final int INFO_EXPORT = 0;
    static final int INFO_NAME = 1;
    static final int INFO_DESCRIPTION = 2;
    static final int INFO_BLOCK_SIZE = 3;

    // commands
    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;
    static final int CMD_TRIM = 4;

    /** The only command flag this server advertises (through FLAG_SEND_FUA); valid on every command. */
    static final int CMD_FLAG_FUA = 1;

    /** Bytes of a request header: magic, flags, type, handle, offset, length. */
    static final int REQUEST_HEADER = 28;
    /** Bytes of an option header: magic, option, length. */
    static final int OPTION_HEADER = 16;
    /** Bytes of a simple reply header. */
    static final int SIMPLE_REPLY_HEADER = 16;
    /** The zero padding after an NBD_OPT_EXPORT_NAME reply unless NO_ZEROES was agreed. */
    static final int EXPORT_NAME_ZEROES = 124;
    /** A string in the protocol (an export name) MUST NOT be longer than this. */
    static final int MAX_STRING = 4096;

    /** A readable name for an option number, for messages. */
    static String optionName(int option) {
        return switch (option) {
            case OPT_EXPORT_NAME -> "NBD_OPT_EXPORT_NAME";
            case OPT_ABORT -> "NBD_OPT_ABORT";
            case OPT_LIST -> "NBD_OPT_LIST";
            case OPT_STARTTLS -> "NBD_OPT_STARTTLS";
            case OPT_INFO -> "NBD_OPT_INFO";
            case OPT_GO -> "NBD_OPT_GO";
            case OPT_STRUCTURED_REPLY -> "NBD_OPT_STRUCTURED_REPLY";
            default -> "option " + Integer.toUnsignedString(option);
        };
    }

    /** A readable name for a command number, for messages. */
    static String commandName(int type) {
        return switch (type) {
            case CMD_READ -> "NBD_CMD_READ";
            case CMD_WRITE -> "NBD_CMD_WRITE";
            case CMD_DISC -> "NBD_CMD_DISC";
            case CMD_FLUSH -> "NBD_CMD_FLUSH";
            case CMD_TRIM -> "NBD_CMD_TRIM";
            default -> "command " + type;
        };
    }
}
