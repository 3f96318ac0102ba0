-- The start of one transaction (transforms.warehouse.transaction).
begin transaction
