select count(*) from marts.erasures;
