package org.clustermd.raid1.sb;

import java.io.IOException;
import java.util.Objects;

/**
 * An md v1.2 superblock on a leg failed validation: the message names the leg and the field
 * (with md_p.h's field name), and {@link #field()} says which check failed. Never repaired
 * silently: assembling or examining the leg stops here.
 *
 * <p>Immutable and therefore thread-safe.
 */
public final class SuperblockFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The {@code mdp_superblock_1} field whose check failed (md_p.h names in {@link #mdName()}). */
    public enum Field {
        MAGIC("magic"),
        MAJOR_VERSION("major_version"),
        FEATURE_MAP("feature_map"),
        PAD0("pad0"),
        SET_NAME("set_name"),
        RAID_DISKS("raid_disks"),
        SIZE("size"),
        BITMAP_OFFSET("bitmap_offset"),
        DATA_OFFSET("data_offset"),
        DATA_SIZE("data_size"),
        SUPER_OFFSET("super_offset"),
        RECOVERY_OFFSET("recovery_offset"),
        DEV_NUMBER("dev_number"),
        BBLOG("bblog_offset"),
        RESYNC_OFFSET("resync_offset"),
        SB_CSUM("sb_csum"),
        MAX_DEV("max_dev"),
        PAD3("pad3"),
        DEV_ROLES("dev_roles"),
        /** The leg could not supply a whole superblock block. */
        DEVICE("device");

        private final String mdName;

        Field(String mdName) {
            this.mdName = mdName;
        }

        /** The field's name in include/uapi/linux/raid/md_p.h. */
        public String mdName() {
            return mdName;
        }
    }

    private final String leg;
    private final Field field;

    public SuperblockFormatException(String leg, Field field, String detail) {
        super(leg + ": md superblock field " + field.mdName() + ": " + detail);
        this.leg = Objects.requireNonNull(leg, "leg");
        this.field = Objects.requireNonNull(field, "field");
    }

    /** The leg (device name) the superblock was read from. */
    public String leg() {
        return leg;
    }

    /** The field that failed validation. */
    public Field field() {
        return field;
    }
}
