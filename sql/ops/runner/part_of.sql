-- A row filter of one part of a build in parts (warehouse.part_inputs): the rows whose key
-- hashes into part {part} of {parts}.
hash({key}) % {parts} = {part}
