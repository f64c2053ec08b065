package org.clustermd.dlm.zk;

import java.util.Comparator;
import org.clustermd.dlm.LockMode;

/**
 * One lock as it stands in ZooKeeper: the whole state is in the znode's name, so the ordered
 * stream of watch events is a complete, exact replica of the lock table and no read is ever
 * needed to follow it.
 *
 * <pre>
 * L_&lt;slot4&gt;_&lt;incarnation16&gt;_&lt;lockId&gt;_&lt;granted&gt;_&lt;requested&gt;_&lt;gen&gt;_&lt;txn&gt;_&lt;seq10&gt;
 *   slot, incarnation  the owning member (incarnation = its ZooKeeper session id, hex)
 *   lockId             the owner's lock handle (decimal), unique within the incarnation
 *   granted            NL..EX, or UN for a new request not yet granted
 *   requested          NL..EX for a pending request or conversion, -- when none is pending
 *   gen                bumped by every rename; lets an owner tell whether its write happened
 *   txn                c&lt;version&gt; when written by a compare-and-set transaction: the resource's
 *                      version after that transaction (so readers follow the version from the
 *                      events alone); p for a plain transaction
 *   seq10              ZooKeeper's sequence suffix: the queue position of the current request
 * </pre>
 *
 * <p>Immutable and thread-safe.
 *
 * @param key the owner and lock id
 * @param granted the granted mode, or null for a new request (UN)
 * @param requested the pending request's mode, or null when nothing is pending
 * @param gen rename generation
 * @param seq queue position (ZooKeeper sequence number of this name)
 * @param casVersion the resource version after the compare-and-set transaction that wrote this
 *     name, or -1 when a plain transaction wrote it
 * @param znode the znode name this was parsed from
 */
record LockEntry(LockKey key, LockMode granted, LockMode requested, long gen, int casVersion, long seq, String znode) {

    static final String PREFIX = "L_";

    /** Queue order: pending conversions first, then new requests, each by sequence number. */
    static final Comparator<LockEntry> QUEUE_ORDER =
            Comparator.comparing((LockEntry e) -> e.granted() == null).thenComparingLong(LockEntry::seq);

    boolean isPending() {
        return requested != null;
    }

    boolean isConversion() {
        return granted != null && requested != null;
    }

    boolean isNewRequest() {
        return granted == null && requested != null;
    }

    /** The name prefix to create (ZooKeeper appends the sequence number). */
    /** @param casVersion the version after the transaction for a compare-and-set one, else -1 */
    static String prefix(LockKey key, LockMode granted, LockMode requested, long gen, int casVersion) {
        // built by hand: every request and grant names a znode, and String.format (a pattern
        // parse and a locale lookup per call) was a quarter of the requesting thread's time
        StringBuilder b = new StringBuilder(64).append(PREFIX);
        padded(b, Integer.toString(key.slot()), 4).append('_');
        padded(b, Long.toHexString(key.incarnation()), 16).append('_');
        b.append(key.lockId()).append('_');
        b.append(granted == null ? "UN" : granted.name()).append('_');
        b.append(requested == null ? "--" : requested.name()).append('_');
        b.append(gen).append('_');
        if (casVersion < 0) {
            b.append('p');
        } else {
            b.append('c').append(casVersion);
        }
        return b.append('_').toString();
    }

    /** Appends {@code digits} left-padded with zeros to {@code width}, as %0<width> does. */
    private static StringBuilder padded(StringBuilder b, String digits, int width) {
        for (int i = digits.length(); i < width; i++) {
            b.append('0');
        }
        return b.append(digits);
    }

    /**
     * Parses a lock znode name.
     *
     * @throws IllegalArgumentException naming the field that is wrong, for a foreign or corrupt name
     */
    static LockEntry parse(String znode) {
        String[] f = znode.split("_", -1);
        if (f.length != 9 || !f[0].equals("L")) {
            throw new IllegalArgumentException(
                    "not a lock znode name (expected 9 '_'-separated fields" + " starting with L): '" + znode + "'");
        }
        int slot = parseField(znode, "slot", f[1], 10, 4);
        long inc;
        try {
            if (f[2].length() != 16) throw new NumberFormatException();
            inc = Long.parseUnsignedLong(f[2], 16);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "lock znode '" + znode + "': incarnation '" + f[2] + "' is not 16 hex digits");
        }
        long lockId = parseLong(znode, "lock id", f[3]);
        LockMode granted = f[4].equals("UN") ? null : mode(znode, "granted mode", f[4]);
        LockMode requested = f[5].equals("--") ? null : mode(znode, "requested mode", f[5]);
        if (granted == null && requested == null) {
            throw new IllegalArgumentException(
                    "lock znode '" + znode + "': neither granted nor requested (UN with --)");
        }
        long gen = parseLong(znode, "generation", f[6]);
        int casVersion;
        if (f[7].equals("p")) {
            casVersion = -1;
        } else if (f[7].startsWith("c") && f[7].length() > 1) {
            try {
                casVersion = Integer.parseInt(f[7].substring(1));
                if (casVersion < 0) throw new NumberFormatException();
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "lock znode '" + znode + "': transaction kind '" + f[7] + "' is not p or c<version>");
            }
        } else {
            throw new IllegalArgumentException(
                    "lock znode '" + znode + "': transaction kind '" + f[7] + "' is not p or c<version>");
        }
        if (f[8].length() != 10) {
            throw new IllegalArgumentException(
                    "lock znode '" + znode + "': sequence '" + f[8] + "' is not ZooKeeper's 10-digit suffix");
        }
        long seq = parseLong(znode, "sequence", f[8]);
        return new LockEntry(new LockKey(slot, inc, lockId), granted, requested, gen, casVersion, seq, znode);
    }

    private static int parseField(String znode, String what, String s, int radix, int width) {
        if (s.length() != width) {
            throw new IllegalArgumentException(
                    "lock znode '" + znode + "': " + what + " '" + s + "' is not " + width + " digits");
        }
        try {
            return Integer.parseInt(s, radix);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("lock znode '" + znode + "': " + what + " '" + s + "' is not a number");
        }
    }

    private static long parseLong(String znode, String what, String s) {
        try {
            long v = Long.parseLong(s);
            if (v < 0) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "lock znode '" + znode + "': " + what + " '" + s + "' is not a non-negative number");
        }
    }

    private static LockMode mode(String znode, String what, String s) {
        try {
            return LockMode.valueOf(s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "lock znode '" + znode + "': " + what + " '" + s + "' is not one of NL CR CW PR PW EX");
        }
    }

    /**
     * Who owns a lock: member slot, member incarnation (session id) and the owner's lock id.
     */
    record LockKey(int slot, long incarnation, long lockId) {}
}
