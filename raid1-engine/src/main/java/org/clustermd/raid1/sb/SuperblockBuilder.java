package org.clustermd.raid1.sb;

import java.util.Arrays;
import java.util.UUID;

/**
 * Builds a {@link Superblock} field by field, flat in md's field order (the setters are what
 * {@code SuperblockBuilder} had), and groups the fields as the kernel does on {@link #build()}.
 * Defaults are those of a new v1.2 raid1 member: super_offset 8, max_dev
 * {@value Superblock#DEFAULT_MAX_DEV} with every role spare, resync_offset MaxSector (clean).
 *
 * <p>Not thread-safe: a mutable builder, used by one thread.
 */
public final class SuperblockBuilder {
    private int featureMap;
    private UUID setUuid = new UUID(0, 0);
    private String setName = "";
    private long ctime;
    private int level = Superblock.LEVEL_RAID1;
    private int layout;
    private long size;
    private int chunksize;
    private int raidDisks;
    private int bitmapOffset;
    private int newLevel;
    private long reshapePosition;
    private int deltaDisks;
    private int newLayout;
    private int newChunk;
    private int newOffset;
    private long dataOffset;
    private long dataSize;
    private long superOffset = Superblock.V1_2_SUPER_OFFSET;
    private long recoveryOffset;
    private int devNumber;
    private int cntCorrectedRead;
    private UUID deviceUuid = new UUID(0, 0);
    private int devflags;
    private int bblogShift;
    private int bblogSize;
    private int bblogOffset;
    private long utime;
    private long events;
    private long resyncOffset = Superblock.MAX_SECTOR;
    private int[] devRoles = spareRoles(Superblock.DEFAULT_MAX_DEV);

    SuperblockBuilder() {}

    SuperblockBuilder(Superblock s) {
        this.featureMap = s.featureMap();
        this.setUuid = s.setUuid();
        this.setName = s.setName();
        this.ctime = s.ctime();
        this.level = s.level();
        this.layout = s.layout();
        this.size = s.size();
        this.chunksize = s.chunksize();
        this.raidDisks = s.raidDisks();
        this.bitmapOffset = s.bitmapOffset();
        this.newLevel = s.newLevel();
        this.reshapePosition = s.reshapePosition();
        this.deltaDisks = s.deltaDisks();
        this.newLayout = s.newLayout();
        this.newChunk = s.newChunk();
        this.newOffset = s.newOffset();
        this.dataOffset = s.dataOffset();
        this.dataSize = s.dataSize();
        this.superOffset = s.superOffset();
        this.recoveryOffset = s.recoveryOffset();
        this.devNumber = s.devNumber();
        this.cntCorrectedRead = s.cntCorrectedRead();
        this.deviceUuid = s.deviceUuid();
        this.devflags = s.devflags();
        this.bblogShift = s.bblogShift();
        this.bblogSize = s.bblogSize();
        this.bblogOffset = s.bblogOffset();
        this.utime = s.utime();
        this.events = s.events();
        this.resyncOffset = s.resyncOffset();
        this.devRoles = s.devRoles();
    }

    private static int[] spareRoles(int n) {
        int[] r = new int[n];
        Arrays.fill(r, Superblock.ROLE_SPARE);
        return r;
    }

    public SuperblockBuilder featureMap(int v) {
        this.featureMap = v;
        return this;
    }

    public SuperblockBuilder setUuid(UUID v) {
        this.setUuid = v;
        return this;
    }

    public SuperblockBuilder setName(String v) {
        this.setName = v;
        return this;
    }

    public SuperblockBuilder ctime(long v) {
        this.ctime = v;
        return this;
    }

    public SuperblockBuilder level(int v) {
        this.level = v;
        return this;
    }

    public SuperblockBuilder layout(int v) {
        this.layout = v;
        return this;
    }

    public SuperblockBuilder size(long v) {
        this.size = v;
        return this;
    }

    public SuperblockBuilder chunksize(int v) {
        this.chunksize = v;
        return this;
    }

    public SuperblockBuilder raidDisks(int v) {
        this.raidDisks = v;
        return this;
    }

    public SuperblockBuilder bitmapOffset(int v) {
        this.bitmapOffset = v;
        return this;
    }

    public SuperblockBuilder newLevel(int v) {
        this.newLevel = v;
        return this;
    }

    public SuperblockBuilder reshapePosition(long v) {
        this.reshapePosition = v;
        return this;
    }

    public SuperblockBuilder deltaDisks(int v) {
        this.deltaDisks = v;
        return this;
    }

    public SuperblockBuilder newLayout(int v) {
        this.newLayout = v;
        return this;
    }

    public SuperblockBuilder newChunk(int v) {
        this.newChunk = v;
        return this;
    }

    public SuperblockBuilder newOffset(int v) {
        this.newOffset = v;
        return this;
    }

    public SuperblockBuilder dataOffset(long v) {
        this.dataOffset = v;
        return this;
    }

    public SuperblockBuilder dataSize(long v) {
        this.dataSize = v;
        return this;
    }

    public SuperblockBuilder superOffset(long v) {
        this.superOffset = v;
        return this;
    }

    public SuperblockBuilder recoveryOffset(long v) {
        this.recoveryOffset = v;
        return this;
    }

    public SuperblockBuilder devNumber(int v) {
        this.devNumber = v;
        return this;
    }

    public SuperblockBuilder cntCorrectedRead(int v) {
        this.cntCorrectedRead = v;
        return this;
    }

    public SuperblockBuilder deviceUuid(UUID v) {
        this.deviceUuid = v;
        return this;
    }

    public SuperblockBuilder devflags(int v) {
        this.devflags = v;
        return this;
    }

    public SuperblockBuilder bblogShift(int v) {
        this.bblogShift = v;
        return this;
    }

    public SuperblockBuilder bblogSize(int v) {
        this.bblogSize = v;
        return this;
    }

    public SuperblockBuilder bblogOffset(int v) {
        this.bblogOffset = v;
        return this;
    }

    public SuperblockBuilder utime(long v) {
        this.utime = v;
        return this;
    }

    public SuperblockBuilder events(long v) {
        this.events = v;
        return this;
    }

    public SuperblockBuilder resyncOffset(long v) {
        this.resyncOffset = v;
        return this;
    }

    /** Sets max_dev, keeping existing roles and filling new entries with Superblock.ROLE_SPARE. */
    public SuperblockBuilder maxDev(int n) {
        if (n < 1 || n > Superblock.MAX_MAX_DEV) {
            throw new IllegalArgumentException("max_dev must be 1.." + Superblock.MAX_MAX_DEV + ": " + n);
        }
        int[] r = spareRoles(n);
        System.arraycopy(devRoles, 0, r, 0, Math.min(n, devRoles.length));
        devRoles = r;
        return this;
    }

    /** Replaces dev_roles (and so max_dev) with a copy of {@code roles}. */
    public SuperblockBuilder devRoles(int[] roles) {
        this.devRoles = roles.clone();
        return this;
    }

    /** Sets dev_roles[devNumber], growing max_dev if needed. */
    public SuperblockBuilder devRole(int devNumber, int role) {
        if (role < 0 || role > 0xffff) {
            throw new IllegalArgumentException("role must be a u16: " + role);
        }
        if (devNumber >= devRoles.length) {
            maxDev(devNumber + 1);
        }
        devRoles[devNumber] = role;
        return this;
    }

    /** Sets the bits of {@code feature} in feature_map. */
    public SuperblockBuilder withFeature(int feature) {
        this.featureMap |= feature;
        return this;
    }

    /** Clears the bits of {@code feature} in feature_map. */
    public SuperblockBuilder withoutFeature(int feature) {
        this.featureMap &= ~feature;
        return this;
    }

    public Superblock build() {
        return new Superblock(
                new Superblock.ArrayInfo(
                        featureMap,
                        setUuid,
                        setName,
                        ctime,
                        level,
                        layout,
                        size,
                        chunksize,
                        raidDisks,
                        bitmapOffset,
                        newLevel,
                        reshapePosition,
                        deltaDisks,
                        newLayout,
                        newChunk,
                        newOffset),
                new Superblock.DeviceInfo(
                        dataOffset,
                        dataSize,
                        superOffset,
                        recoveryOffset,
                        devNumber,
                        cntCorrectedRead,
                        deviceUuid,
                        devflags,
                        bblogShift,
                        bblogSize,
                        bblogOffset),
                new Superblock.StateInfo(utime, events, resyncOffset),
                new Superblock.DevRoles(devRoles));
    }
}
