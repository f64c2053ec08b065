package org.clustermd.cluster.nbd;

import static org.clustermd.cluster.nbd.NbdProtocol.OPT_ABORT;
import static org.clustermd.cluster.nbd.NbdProtocol.OPT_EXPORT_NAME;
import static org.clustermd.cluster.nbd.NbdProtocol.OPT_GO;
import static org.clustermd.cluster.nbd.NbdProtocol.OPT_INFO;
import static org.clustermd.cluster.nbd.NbdProtocol.OPT_LIST;

import io.netty.buffer.ByteBuf;
import java.util.Map;

/**
 * The option haggling of one connection's fixed newstyle handshake: checks the client flags,
 * answers NBD_OPT_LIST, NBD_OPT_INFO, NBD_OPT_GO, NBD_OPT_EXPORT_NAME and NBD_OPT_ABORT, and
 * NBD_REP_ERR_UNSUP to every other option (structured replies, TLS and metadata contexts are
 * not offered, so clients fall back to simple replies). The connection feeds it whole options
 * and writes what it appends.
 *
 * <p>Not thread-safe: one connection's event loop drives it.
 */
final class Handshake {
    /** What the connection does after an option. */
    enum Outcome {
        /** Wait for the next option. */
        NEXT_OPTION,
        /** Enter the transmission phase with {@link #chosen()}. */
        TRANSMISSION,
        /** Send what was appended, then close (the client aborted). */
        CLOSE,
        /** Close without a reply: the client asked for something that cannot be answered with an error. */
        DISCONNECT
    }

    private final Map<String, Export> exports;
    private boolean noZeroes;
    private Export chosen;
    private String problem;

    /** @param exports by name; an empty name asks for the only export when there is exactly one */
    Handshake(Map<String, Export> exports) {
        this.exports = exports;
    }

    /**
     * Takes the client flags; false (and {@link #problem()} says why) when the client sets a
     * flag this server did not offer, after which the spec has the server drop the connection.
     */
    boolean clientFlags(long flags) {
        long known = NbdProtocol.FLAG_C_FIXED_NEWSTYLE | NbdProtocol.FLAG_C_NO_ZEROES;
        if ((flags & ~known) != 0) {
            problem = "client flags 0x" + Long.toHexString(flags) + " hold bits this server did not offer";
            return false;
        }
        noZeroes = (flags & NbdProtocol.FLAG_C_NO_ZEROES) != 0;
        return true;
    }

    /** Answers one option whose whole data is in {@code data}, appending the replies to {@code out}. */
    Outcome option(int option, ByteBuf data, ByteBuf out) {
        switch (option) {
            case OPT_EXPORT_NAME -> {
                String name = NbdCodec.decodeName(data, data.readableBytes());
                Export e = name == null ? null : lookup(name);
                if (e == null) {
                    // NBD_OPT_EXPORT_NAME cannot carry an error: the spec has the server terminate the session
                    problem = "NBD_OPT_EXPORT_NAME asked for " + describe(name) + ", which is not exported here";
                    return Outcome.DISCONNECT;
                }
                chosen = e;
                NbdCodec.writeExportNameReply(out, e.size(), Export.TRANSMISSION_FLAGS, !noZeroes);
                return Outcome.TRANSMISSION;
            }
            case OPT_ABORT -> {
                NbdCodec.writeAck(out, option);
                return Outcome.CLOSE;
            }
            case OPT_LIST -> {
                if (data.isReadable()) {
                    NbdCodec.writeOptionError(out, option, NbdProtocol.REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
                    return Outcome.NEXT_OPTION;
                }
                for (Export e : exports.values()) NbdCodec.writeServer(out, option, e.name());
                NbdCodec.writeAck(out, option);
                return Outcome.NEXT_OPTION;
            }
            case OPT_INFO, OPT_GO -> {
                return info(option, data, out);
            }
            default -> {
                NbdCodec.writeOptionError(
                        out,
                        option,
                        NbdProtocol.REP_ERR_UNSUP,
                        NbdProtocol.optionName(option) + " is not supported by this server");
                return Outcome.NEXT_OPTION;
            }
        }
    }

    /**
     * Answers an option whose data was too long to hold and was skipped: an error reply, or a
     * disconnect for NBD_OPT_EXPORT_NAME (an export name that long cannot exist).
     */
    Outcome oversizedOption(int option, long length, ByteBuf out) {
        switch (option) {
            case OPT_EXPORT_NAME -> {
                problem = "NBD_OPT_EXPORT_NAME with a " + length + "-byte name";
                return Outcome.DISCONNECT;
            }
            case OPT_ABORT, OPT_LIST, OPT_INFO, OPT_GO -> {
                NbdCodec.writeOptionError(
                        out,
                        option,
                        NbdProtocol.REP_ERR_TOO_BIG,
                        NbdProtocol.optionName(option) + " with " + length + " bytes of data is too large");
                return Outcome.NEXT_OPTION;
            }
            default -> {
                NbdCodec.writeOptionError(
                        out,
                        option,
                        NbdProtocol.REP_ERR_UNSUP,
                        NbdProtocol.optionName(option) + " is not supported by this server");
                return Outcome.NEXT_OPTION;
            }
        }
    }

    private Outcome info(int option, ByteBuf data, ByteBuf out) {
        NbdCodec.InfoRequest req = NbdCodec.parseInfoRequest(data);
        if (req == null) {
            NbdCodec.writeOptionError(
                    out,
                    option,
                    NbdProtocol.REP_ERR_INVALID,
                    NbdProtocol.optionName(option)
                            + ": the name length and information count do not match the option length, or the name is not UTF-8");
            return Outcome.NEXT_OPTION;
        }
        Export e = lookup(req.name());
        if (e == null) {
            NbdCodec.writeOptionError(
                    out,
                    option,
                    NbdProtocol.REP_ERR_UNKNOWN,
                    "export " + describe(req.name()) + " is not served here; exports: "
                            + String.join(", ", exports.keySet()));
            return Outcome.NEXT_OPTION;
        }
        NbdCodec.writeInfoExport(out, option, e.size(), Export.TRANSMISSION_FLAGS);
        // sent even when not asked: the minimum block size is the array's logical block size, which misaligned
        // requests violate (they get EINVAL); clients that ask have promised to obey it
        NbdCodec.writeInfoBlockSize(out, option, e.minBlock(), e.preferredBlock(), e.maxPayload());
        if (req.asks(NbdProtocol.INFO_NAME)) NbdCodec.writeInfoString(out, option, NbdProtocol.INFO_NAME, e.name());
        if (req.asks(NbdProtocol.INFO_DESCRIPTION)) {
            NbdCodec.writeInfoString(out, option, NbdProtocol.INFO_DESCRIPTION, "clustermd array " + e.name());
        }
        NbdCodec.writeAck(out, option);
        if (option == OPT_INFO) return Outcome.NEXT_OPTION;
        chosen = e;
        return Outcome.TRANSMISSION;
    }

    private Export lookup(String name) {
        if (name.isEmpty() && exports.size() == 1)
            return exports.values().iterator().next();
        return exports.get(name);
    }

    private static String describe(String name) {
        if (name == null) return "a name that is not UTF-8 text";
        return name.isEmpty() ? "the default export" : "'" + name + "'";
    }

    /** The export chosen by NBD_OPT_GO or NBD_OPT_EXPORT_NAME. */
    Export chosen() {
        return chosen;
    }

    /** Why the last refused step was refused, for the log. */
    String problem() {
        return problem;
    }
}
