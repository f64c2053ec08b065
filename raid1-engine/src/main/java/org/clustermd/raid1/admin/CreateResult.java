package org.clustermd.raid1.admin;

import java.util.List;
import java.util.UUID;
import org.clustermd.raid1.sb.Superblock;

/**
 * What {@link ArrayCreator} wrote.
 *
 * <p>Immutable; thread-safe.
 *
 * @param uuid set_uuid of the new array
 * @param sizeSectors the array size (md's size), sectors
 * @param dataOffset data_offset of every leg, sectors
 * @param superblocks the superblock written to each leg, in the order the legs were given
 */
public record CreateResult(UUID uuid, long sizeSectors, long dataOffset, List<Superblock> superblocks) {
    public CreateResult {
        superblocks = List.copyOf(superblocks);
    }
}
