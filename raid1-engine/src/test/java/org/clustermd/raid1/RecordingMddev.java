package org.clustermd.raid1;

import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.clustermd.bitmap.WriteIntentBitmap;

/**
 * A stand-in for the array in tests of one {@link ClusterOperations} implementation: it records
 * every callback and answers from fields the test sets. Not an engine: contract tests of the
 * SPI use it so they do not need legs.
 *
 * <p>Thread-safe.
 */
public final class RecordingMddev implements Mddev {
    private final String name;
    private final UUID uuid;
    private final String clusterName;
    private volatile WriteIntentBitmap bitmap;
    private volatile long recoveryCp = Long.MAX_VALUE;
    private final List<String> calls = new CopyOnWriteArrayList<>();

    public RecordingMddev(String name, UUID uuid, String clusterName) {
        this.name = name;
        this.uuid = uuid;
        this.clusterName = clusterName;
    }

    public void bitmap(WriteIntentBitmap b) {
        this.bitmap = b;
    }

    /** Every callback so far, as "name(args)". */
    public List<String> calls() {
        return List.copyOf(calls);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public UUID uuid() {
        return uuid;
    }

    @Override
    public String clusterName() {
        return clusterName;
    }

    @Override
    public long events() {
        return 0;
    }

    @Override
    public long recoveryCp() {
        return recoveryCp;
    }

    @Override
    public Optional<WriteIntentBitmap> bitmap() {
        return Optional.ofNullable(bitmap);
    }

    @Override
    public void quiesce() {
        calls.add("quiesce()");
    }

    @Override
    public void unquiesce() {
        calls.add("unquiesce()");
    }

    @Override
    public boolean holdForSession() {
        calls.add("holdForSession()");
        return true;
    }

    @Override
    public void releaseSessionHold() {
        calls.add("releaseSessionHold()");
    }

    @Override
    public void drainRange(long lo, long hi, java.time.Duration bound) {
        calls.add("drainRange(" + lo + ", " + hi + ")");
    }

    @Override
    public void suspendedRangeChanged() {
        calls.add("suspendedRangeChanged()");
    }

    @Override
    public void reloadSuperblock(int devNumber) {
        calls.add("reloadSuperblock(" + devNumber + ")");
    }

    @Override
    public void reloadSuperblock() {
        calls.add("reloadSuperblock()");
    }

    @Override
    public java.time.Duration ioWait() {
        return ArrayOptions.DEFAULT_IO_WAIT;
    }

    @Override
    public long foregroundRequests() {
        return 0;
    }

    @Override
    public void requestRecovery() {
        calls.add("requestRecovery()");
    }

    @Override
    public synchronized void lowerRecoveryCp(long sector) {
        calls.add("lowerRecoveryCp(" + sector + ")");
        recoveryCp = Math.min(recoveryCp, sector);
    }

    @Override
    public void clusterRemove(int devNumber) {
        calls.add("clusterRemove(" + devNumber + ")");
    }

    @Override
    public boolean deviceInUse(int devNumber, java.util.UUID deviceUuid) {
        return false;
    }

    @Override
    public void clusterAdd(org.clustermd.raid1.io.BlockDevice device) {
        calls.add("clusterAdd(" + device.name() + ")");
    }

    @Override
    public void clusterReAdd(int devNumber) {
        calls.add("clusterReAdd(" + devNumber + ")");
    }

    @Override
    public void changeCapacity() {
        calls.add("changeCapacity");
    }

    @Override
    public void finishInterruptedGrow() {
        calls.add("finishInterruptedGrow");
    }

    @Override
    public void fillSkippedSlot(int slot) {
        calls.add("fillSkippedSlot(" + slot + ")");
    }

    @Override
    public void fence(FenceReason reason, Throwable cause) {
        calls.add("fence(" + reason + ")");
    }
}
