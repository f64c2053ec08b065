package org.clustermd.dlm;

/**
 * A lockspace member's slot: 0-based, stable for the member's whole membership, and below the
 * lockspace's slot count. md-cluster uses it to pick the member's bitmap area and the name of
 * its bitmap lock. The kernel's DLM numbers slots from 1; {@link #fromDlmSlot} and
 * {@link #dlmSlot} are the only place that conversion happens.
 *
 * <p>Immutable and thread-safe.
 *
 * @param number the 0-based slot number
 */
public record NodeSlot(int number) implements Comparable<NodeSlot> {
    /** The largest slot count md's lock names ({@code bitmap%04d}) can express. */
    public static final int MAX_SLOTS = 10_000;

    public NodeSlot {
        if (number < 0 || number >= MAX_SLOTS) {
            throw new IllegalArgumentException("slot " + number + " out of range [0, " + MAX_SLOTS + ")");
        }
    }

    /** The slot for a kernel-style 1-based DLM slot number. */
    public static NodeSlot fromDlmSlot(int oneBased) {
        return new NodeSlot(oneBased - 1);
    }

    /** The kernel-style 1-based slot number. */
    public int dlmSlot() {
        return number + 1;
    }

    /** md-cluster's name for this slot's bitmap lock: {@code bitmap0000} for slot 0. */
    public String bitmapLockName() {
        return String.format("bitmap%04d", number);
    }

    @Override
    public int compareTo(NodeSlot o) {
        return Integer.compare(number, o.number);
    }

    @Override
    public String toString() {
        return "slot" + number;
    }
}
