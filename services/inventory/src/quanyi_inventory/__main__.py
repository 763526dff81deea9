from quanyi_inventory.bootstrap import main

main()
