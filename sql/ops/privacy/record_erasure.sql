-- One row of marts.erasures: when, asked by what, and how many rows.
insert into marts.erasures values ($id, $at, $by, $nc, $ni, $nr, $ne)
