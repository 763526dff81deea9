from quanyi_orders.bootstrap import main

main()
