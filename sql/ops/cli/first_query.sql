select * from marts.journeys limit 5
