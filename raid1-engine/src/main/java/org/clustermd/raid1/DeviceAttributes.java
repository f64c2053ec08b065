package org.clustermd.raid1;

import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * One leg's attributes, as md's sysfs groups them under {@code md/dev-<name>/}: its state (read
 * as md's words, written with md's commands), write-mostly, and the fail, remove and re-add
 * commands. {@link Raid1Array#device(String)} returns it. It owns only the leg's name: the leg
 * is looked up again on every call, so a view stays valid (and says NO_SUCH_DEVICE) after the
 * leg leaves the array.
 *
 * <p>Thread-safe.
 */
public final class DeviceAttributes {
    private final String array;
    private final String leg;
    private final Mirrors mirrors;
    private final Legs legs;
    private final BooleanSupplier closing;

    DeviceAttributes(String array, String leg, Mirrors mirrors, Legs legs, BooleanSupplier closing) {
        this.array = array;
        this.leg = leg;
        this.mirrors = mirrors;
        this.legs = legs;
        this.closing = closing;
    }

    /** The leg's name. */
    public String name() {
        return leg;
    }

    /** The leg as the array sees it now; empty when it is not a member. */
    public Optional<Mirror> mirror() {
        return mirrors.current().byName(leg);
    }

    /**
     * md's dev-X/state read: {@link Mirror#mdState()}.
     *
     * @throws Raid1Exception NO_SUCH_DEVICE when the leg is not a member
     */
    public String state() throws Raid1Exception {
        return member().mdState();
    }

    /**
     * Writes md's dev-X/state with md's words: faulty, remove, re-add, writemostly,
     * -writemostly, idle (no-op).
     *
     * @throws Raid1Exception INVALID for any other word (never ignored silently, docs/lessons.md §23)
     */
    public void state(String word) throws Raid1Exception {
        switch (word.trim()) {
            case "faulty" -> fail();
            case "remove" -> remove();
            case "re-add" -> reAdd();
            case "writemostly" -> writeMostly(true);
            case "-writemostly" -> writeMostly(false);
            case "idle" -> checkOpen();
            default ->
                throw new Raid1Exception(
                        Raid1Exception.Code.INVALID,
                        array + ": '" + word
                                + "' is not a device state command (faulty, remove, re-add, writemostly, -writemostly, idle)");
        }
    }

    /**
     * md's dev-X/state "writemostly" flag.
     *
     * @throws Raid1Exception NO_SUCH_DEVICE when the leg is not a member
     */
    public boolean writeMostly() throws Raid1Exception {
        return member().writeMostly();
    }

    /** Sets or clears write-mostly. */
    public void writeMostly(boolean on) throws Raid1Exception {
        checkOpen();
        legs.writeMostly(leg, on);
    }

    /** md's "faulty" / mdadm --fail. Refused (BUSY) for the last in-sync leg. */
    public void fail() throws Raid1Exception {
        checkOpen();
        legs.fail(leg);
    }

    /** mdadm --remove: only a faulty or spare leg. The device is closed. */
    public void remove() throws Raid1Exception {
        checkOpen();
        legs.remove(leg);
    }

    /** md's "re-add" of a faulty member: the bitmap decides how much it must recover. */
    public void reAdd() throws Raid1Exception {
        checkOpen();
        legs.reAdd(leg);
    }

    private Mirror member() throws Raid1Exception {
        return mirror().orElseThrow(() ->
                new Raid1Exception(Raid1Exception.Code.NO_SUCH_DEVICE, array + ": " + leg + " is not a member"));
    }

    private void checkOpen() throws Raid1Exception {
        if (closing.getAsBoolean()) throw new Raid1Exception(Raid1Exception.Code.CLOSED, array + ": array is stopped");
    }
}
